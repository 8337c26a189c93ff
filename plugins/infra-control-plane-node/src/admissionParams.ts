import {
  DEFAULT_ALLOWED_REGISTRIES,
  DEFAULT_PLATFORM_SECRET_NAME,
  JOB_CONTROLLER_USER,
  NAMESPACE_CONTROLLER_USER,
  PORTAL_NAMESPACE,
  RUN_SECRET_SUFFIX,
  RUN_SERVICE_ACCOUNT,
  serviceAccountUser,
} from './admission';
import {
  AGENT_CONTAINER,
  ANNOTATIONS,
  EGRESS_CREDENTIAL_KEY,
  LABELS,
  MANAGED_BY,
} from './jobSpec';

/** What varies between deployments in the admission policies. @public */
export interface AdmissionValuesOptions {
  /** `productControlPlane.images.allowedRegistries` (default {@link DEFAULT_ALLOWED_REGISTRIES}). */
  allowedRegistries?: string[];
  /** `productControlPlane.images.requireDigest` (default false). */
  requireDigest?: boolean;
  /** `infraControlPlane.kubernetes.platformSecretName` (default {@link DEFAULT_PLATFORM_SECRET_NAME}). */
  platformSecretName?: string;
  /** Keys of the platform Secret agents may be granted (the granted platform secrets' names). */
  platformSecretKeys?: string[];
  /** Username of the run identity (default the portal's ServiceAccount). */
  runIdentity?: string;
}

/**
 * The values the ValidatingAdmissionPolicies of the runs namespace
 * (k8s/15-runs-admission.yaml) hold as CEL `variables`, by variable name,
 * each a CEL literal: the builder's label, annotation and key names, and the
 * deployment's values. (Values live in the policies rather than in a
 * `paramKind: ConfigMap`: kube-apiserver 1.36 stops resolving ConfigMap
 * params for good once no binding uses them for a moment, kubernetes#130887.)
 *
 * @public
 */
export function renderAdmissionValues(
  o: AdmissionValuesOptions = {},
): Record<string, string> {
  const cel = (v: unknown) => JSON.stringify(v);
  return {
    runIdentity: cel(
      o.runIdentity ??
        serviceAccountUser(PORTAL_NAMESPACE, RUN_SERVICE_ACCOUNT),
    ),
    podCreator: cel(JOB_CONTROLLER_USER),
    namespaceController: cel(NAMESPACE_CONTROLLER_USER),
    allowedRegistries: cel(
      (o.allowedRegistries ?? DEFAULT_ALLOWED_REGISTRIES).map(r =>
        r.replace(/\/+$/, '').toLowerCase(),
      ),
    ),
    requireDigest: cel(o.requireDigest ?? false),
    platformSecretName: cel(
      o.platformSecretName ?? DEFAULT_PLATFORM_SECRET_NAME,
    ),
    platformSecretKeys: cel(o.platformSecretKeys ?? []),
    runSecretSuffix: cel(RUN_SECRET_SUFFIX),
    egressCredentialKey: cel(EGRESS_CREDENTIAL_KEY),
    agentContainer: cel(AGENT_CONTAINER),
    managedByLabel: cel(LABELS.managedBy),
    managedBy: cel(MANAGED_BY),
    executionIdLabel: cel(LABELS.executionId),
    executionIdAnnotation: cel(ANNOTATIONS.executionId),
    egressLabel: cel(LABELS.egress),
    platformApiLabel: cel(LABELS.platformApi),
  };
}

/**
 * The runs-namespace admission policies (the text of
 * `k8s/15-runs-admission.yaml`) with this deployment's values: every CEL
 * variable named by {@link renderAdmissionValues} gets its value, the rest
 * of the file (rules, messages, comments) stays as it is. Used by
 * `scripts/k8s/render-admission.ts` to render the manifest from the
 * portal's config.
 *
 * @public
 */
export function renderAdmissionManifest(
  manifest: string,
  o: AdmissionValuesOptions = {},
): string {
  const values = renderAdmissionValues(o);
  const lines = manifest.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const name = /^(\s*)- name: (\w+)\s*$/.exec(lines[i]);
    const expression = /^(\s*)expression: /.exec(lines[i + 1]);
    if (!name || !expression || !(name[2] in values)) continue;
    // A YAML single-quoted scalar: quotes are doubled.
    const literal = values[name[2]].replace(/'/g, "''");
    lines[i + 1] = `${expression[1]}expression: '${literal}'`;
  }
  return lines.join('\n');
}
