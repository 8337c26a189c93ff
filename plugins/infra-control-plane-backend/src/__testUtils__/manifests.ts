import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import yaml from 'yaml';
import { REPO_ROOT } from './index';

/** The manifests of k8s/ (every file but skaffold.yaml), in file order. */
export const K8S_DIR = path.join(REPO_ROOT, 'k8s');

/** Every object of the k8s/ manifests, or of one file. */
export function loadManifests(
  file?: string,
): Array<KubernetesObject & Record<string, any>> {
  return fs
    .readdirSync(K8S_DIR)
    .filter(
      f =>
        f.endsWith('.yaml') && f !== 'skaffold.yaml' && (!file || f === file),
    )
    .sort()
    .flatMap(f =>
      yaml
        .parseAllDocuments(fs.readFileSync(path.join(K8S_DIR, f), 'utf8'))
        .map(d => d.toJSON())
        .filter(Boolean),
    );
}

const CLUSTER_SCOPED = new Set([
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
]);

/**
 * The manifests as another instance of the platform, so that test files can
 * apply them side by side on one control plane: every namespace name in
 * `namespaces` (as a whole value, or inside a ServiceAccount username) is
 * replaced, and cluster-scoped names (policies, bindings) get `-<suffix>`.
 */
export function instantiateManifests<T extends KubernetesObject>(
  objects: T[],
  namespaces: Record<string, string>,
  suffix: string,
): T[] {
  const rename = (value: unknown): unknown => {
    if (typeof value === 'string') {
      if (namespaces[value]) return namespaces[value];
      return value.replace(/system:serviceaccount:([^:]+):/g, (m, ns) =>
        namespaces[ns] ? `system:serviceaccount:${namespaces[ns]}:` : m,
      );
    }
    if (Array.isArray(value)) return value.map(rename);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, rename(v)]),
      );
    }
    return value;
  };
  return objects.map(o => {
    const copy = rename(o) as any;
    if (CLUSTER_SCOPED.has(o.kind!)) {
      copy.metadata.name = `${o.metadata!.name}-${suffix}`;
      if (copy.spec?.policyName)
        copy.spec.policyName = `${copy.spec.policyName}-${suffix}`;
    }
    return copy;
  });
}

/** Resource paths of the kinds in k8s/ (a new kind fails loudly here). */
const PLURALS: Record<string, string> = {
  Namespace: 'namespaces',
  ServiceAccount: 'serviceaccounts',
  Secret: 'secrets',
  Role: 'roles',
  RoleBinding: 'rolebindings',
  NetworkPolicy: 'networkpolicies',
  ResourceQuota: 'resourcequotas',
  LimitRange: 'limitranges',
  ConfigMap: 'configmaps',
  Deployment: 'deployments',
  Service: 'services',
  ValidatingAdmissionPolicy: 'validatingadmissionpolicies',
  ValidatingAdmissionPolicyBinding: 'validatingadmissionpolicybindings',
};

/** The API path of an object (`/apis/<group>/<version>[/namespaces/<ns>]/<plural>/<name>`). */
export function objectPath(obj: KubernetesObject): string {
  const plural = PLURALS[obj.kind!];
  if (!plural) throw new Error(`no resource path known for kind ${obj.kind}`);
  const base = obj.apiVersion!.includes('/')
    ? `/apis/${obj.apiVersion}`
    : `/api/${obj.apiVersion}`;
  const ns = obj.metadata!.namespace
    ? `/namespaces/${obj.metadata!.namespace}`
    : '';
  return `${base}${ns}/${plural}/${obj.metadata!.name}`;
}

/** One HTTP call to the apiserver as `kubeConfig`'s user; rejects with `{ code, body }` on >= 300. */
export async function apiRequest(
  kubeConfig: KubeConfig,
  method: string,
  pathAndQuery: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<any> {
  const url = new URL(
    `${kubeConfig.getCurrentCluster()!.server}${pathAndQuery}`,
  );
  const options: https.RequestOptions = {
    method,
    headers: { 'content-type': contentType, accept: 'application/json' },
  };
  await kubeConfig.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = https.request(url, options, res => {
      let text = '';
      res.on('data', c => (text += c));
      res.on('end', () => {
        if (res.statusCode! >= 300) {
          reject(
            Object.assign(
              new Error(`${method} ${pathAndQuery}: ${res.statusCode} ${text}`),
              { code: res.statusCode, body: text },
            ),
          );
        } else resolve(text ? JSON.parse(text) : undefined);
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/**
 * Server-side apply of a manifest exactly as written, like kubectl (the
 * client's object API re-serializes through typed models that lose fields).
 */
export function serverSideApply(
  kubeConfig: KubeConfig,
  obj: KubernetesObject,
  dryRun?: 'All',
) {
  const query = new URLSearchParams({
    fieldManager: 'agent-platform-tests',
    force: 'true',
    ...(dryRun ? { dryRun } : {}),
  });
  return apiRequest(
    kubeConfig,
    'PATCH',
    `${objectPath(obj)}?${query}`,
    obj,
    'application/apply-patch+yaml',
  );
}
