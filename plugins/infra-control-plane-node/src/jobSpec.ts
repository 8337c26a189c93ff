import { createHash } from 'node:crypto';
import type { V1Job, V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { ExecutionPlan } from '@internal/plugin-agents-common';

/** Labels and annotations the platform puts on its Jobs and pods. @public */
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  executionId: 'agentplatform.dev/execution-id',
  agent: 'agentplatform.dev/agent',
  egress: 'agentplatform.dev/egress',
  platformApi: 'agentplatform.dev/platform-api',
  role: 'agentplatform.dev/role',
} as const;
/** @public */
export const MANAGED_BY = 'agent-platform-infra-control-plane';
/** @public */
export const ANNOTATIONS = {
  executionId: 'agentplatform.dev/execution-id',
  attempt: 'agentplatform.dev/attempt',
  agentRef: 'agentplatform.dev/agent-ref',
  agentVersion: 'agentplatform.dev/agent-version',
  requestedBy: 'agentplatform.dev/requested-by',
  plan: 'agentplatform.dev/plan',
} as const;

/** The container name of agent pods (the log API needs it). */
export const AGENT_CONTAINER = 'agent';
/** Where granted secrets are mounted (AGENT_SECRETS_DIR). */
export const SECRETS_DIR = '/var/run/agentplatform/secrets';
/** The egress proxy pods granted `http` go through: the `agent-egress` Service (k8s/25-egress-proxy.yaml). @public */
export const DEFAULT_EGRESS_PROXY_URL = 'http://agent-egress.agent-platform.svc:3128';
/**
 * The key of the run's egress credential in its run Secret. Not a possible
 * secret name of a plan (those are mounted as files by name), and never
 * mounted as a file: the pod reads it as `AGENT_EGRESS_CREDENTIAL`.
 *
 * @public
 */
export const EGRESS_CREDENTIAL_KEY = 'agentplatform.egress-credential';
/** Virtual origins of the egress proxy's platform routes, used by pods that go through it. */
const PLATFORM_ORIGINS = {
  llm: 'http://llm.platform.internal',
  catalog: 'http://catalog.platform.internal',
} as const;

function shortHash(value: string, length = 10) {
  return createHash('sha256').update(value).digest('hex').slice(0, length);
}

/** A DNS-1123 label fragment of a value, hashed when it had to change or was too long. */
export function labelSafe(value: string, max = 63): string {
  const slug = value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (slug === value && slug.length <= max && slug.length > 0) return slug;
  const hash = shortHash(value);
  const head = slug.slice(0, max - hash.length - 1).replace(/-+$/g, '');
  return head ? `${head}-${hash}` : hash;
}

/**
 * The Job name of an execution: deterministic (a repeated dispatch finds the
 * same Job), a DNS-1123 label (the job-name label of its pods needs that), at
 * most 52 characters so pod names derived from it stay valid.
 *
 * @public
 */
export function jobNameFor(executionId: string, attempt: number): string {
  const suffix = attempt > 1 ? `-a${attempt}` : '';
  const id = executionId.toLowerCase();
  const room = 52 - 'run-'.length - suffix.length;
  // Verbatim only when already a DNS label; otherwise a hash keeps ids that
  // differ only in case or punctuation apart.
  if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(executionId) && id.length <= room) {
    return `run-${id}${suffix}`;
  }
  const hash = shortHash(executionId, 12);
  const head = id
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, room - hash.length - 1)
    .replace(/-+$/g, '');
  return `run-${head ? `${head}-` : ''}${hash}${suffix}`;
}

/**
 * The pull policy of an image reference: `IfNotPresent` when pinned by
 * digest (`image@sha256:...`, immutable), `Always` for a tag (mutable: a
 * node must not run whatever it cached under that tag).
 *
 * @public
 */
export function imagePullPolicyFor(image: string): 'Always' | 'IfNotPresent' {
  return /@sha(256|512):[a-f0-9]+$/.test(image) ? 'IfNotPresent' : 'Always';
}

/** Options for {@link buildHardenedJob}. @public */
export interface HardenedJobOptions {
  name: string;
  namespace: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: V1EnvVar[];
  cpu: string;
  memory: string;
  /** activeDeadlineSeconds */
  deadlineSeconds: number;
  backoffLimit?: number;
  ttlSecondsAfterFinished?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  podLabels?: Record<string, string>;
  podAnnotations?: Record<string, string>;
  volumes?: V1Volume[];
  volumeMounts?: V1VolumeMount[];
  /** Default: {@link imagePullPolicyFor} the image. */
  imagePullPolicy?: string;
  /** Exit codes that fail the Job at once (no retry); default: every non-zero code. */
  failOnExitCodes?: 'any-non-zero' | number[];
  containerName?: string;
}

/**
 * A batch/v1 Job that passes the Pod Security `restricted` profile: non-root
 * (uid 10001), read-only root filesystem with an emptyDir at /tmp, all
 * capabilities dropped, no privilege escalation, seccomp RuntimeDefault, no
 * ServiceAccount token. Pod disruptions (eviction, preemption, node drain) are
 * retried; container failures fail the Job at once.
 *
 * @public
 */
export function buildHardenedJob(o: HardenedJobOptions): V1Job {
  const container = o.containerName ?? AGENT_CONTAINER;
  const exitRule =
    !o.failOnExitCodes || o.failOnExitCodes === 'any-non-zero'
      ? { containerName: container, operator: 'NotIn', values: [0] }
      : { containerName: container, operator: 'In', values: o.failOnExitCodes };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: o.name,
      namespace: o.namespace,
      labels: o.labels,
      annotations: o.annotations,
    },
    spec: {
      backoffLimit: o.backoffLimit ?? 2,
      activeDeadlineSeconds: o.deadlineSeconds,
      ttlSecondsAfterFinished: o.ttlSecondsAfterFinished ?? 3600,
      podFailurePolicy: {
        rules: [
          {
            action: 'Ignore',
            onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }],
          },
          { action: 'FailJob', onExitCodes: exitRule },
        ],
      },
      template: {
        metadata: {
          labels: { ...o.labels, ...o.podLabels },
          annotations: { ...o.annotations, ...o.podAnnotations },
        },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 10001,
            runAsGroup: 10001,
            fsGroup: 10001,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: container,
              image: o.image,
              imagePullPolicy: o.imagePullPolicy ?? imagePullPolicyFor(o.image),
              command: o.command,
              args: o.args,
              workingDir: '/tmp',
              env: o.env,
              resources: {
                requests: { cpu: o.cpu, memory: o.memory },
                limits: { cpu: o.cpu, memory: o.memory },
              },
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 10001,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                privileged: false,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
              volumeMounts: [
                { name: 'tmp', mountPath: '/tmp' },
                ...(o.volumeMounts ?? []),
              ],
            },
          ],
          volumes: [
            { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
            ...(o.volumes ?? []),
          ],
        },
      },
    },
  };
}

/** Options for {@link buildAgentJob}. @public */
export interface AgentJobOptions {
  namespace: string;
  /** Kubernetes Secret holding `platform` secrets (key = ref). */
  platformSecretName: string;
  baseEnv?: Record<string, string>;
  ttlSecondsAfterFinished?: number;
  backoffLimit?: number;
  deadlineGraceSeconds?: number;
  /** Overrides {@link imagePullPolicyFor} the plan's image when set. */
  imagePullPolicy?: string;
  /** Extra pod annotations (e.g. for a service mesh, or the test cluster's fake kubelet). */
  podAnnotations?: Record<string, string>;
  /**
   * The per-execution Secret the executor creates with the resolved `user`
   * secrets (key = `SecretReference.name`). When set, `user` refs are mounted
   * from it, and only those in `keys` (unresolved ones are left out, so the
   * runtime reports them missing instead of the pod waiting for a key).
   */
  runSecret?: { name: string; keys: string[] };
  /** The egress proxy of pods granted `http`; default {@link DEFAULT_EGRESS_PROXY_URL}. */
  egressProxyUrl?: string;
  /**
   * Where the run's egress credential is: a key of a Secret (the run Secret,
   * key {@link EGRESS_CREDENTIAL_KEY}), referenced by `secretKeyRef`, never a
   * value in the spec. Only used when `http` is granted.
   */
  egressCredential?: { secretName: string; key: string };
}

/**
 * The name of the per-execution Secret of a run: `<job name>-secrets`
 * (deterministic, so a repeated dispatch finds the same Secret).
 *
 * @public
 */
export function runSecretNameFor(executionId: string, attempt: number): string {
  return `${jobNameFor(executionId, attempt)}-secrets`;
}

/**
 * Splits a SecretReference.ref into a Kubernetes Secret name and key:
 * `secret-name/key` for both sources; a bare `key` of a platform ref means a
 * key of the platform Secret.
 */
export function secretLocation(
  ref: { source: 'platform' | 'user'; ref: string; name: string },
  platformSecretName: string,
): { secretName: string; key: string } {
  const slash = ref.ref.indexOf('/');
  if (slash > 0) {
    return { secretName: ref.ref.slice(0, slash), key: ref.ref.slice(slash + 1) };
  }
  return ref.source === 'platform'
    ? { secretName: platformSecretName, key: ref.ref }
    : { secretName: ref.ref, key: ref.name };
}

/**
 * The Job of one execution plan: the runtime image runs
 * `agent-runtime run /agent` with the env contract; granted secrets come from
 * Kubernetes Secrets through a projected volume (never values in the spec);
 * the pod is labelled for the egress NetworkPolicy only when `http` is granted.
 * Such a pod may reach only the egress proxy: it gets `AGENT_EGRESS_PROXY`,
 * its credential as `AGENT_EGRESS_CREDENTIAL` (a `secretKeyRef`), and its
 * `llm` / `catalog` tools are pointed at the proxy's platform routes.
 *
 * @public
 */
export function buildAgentJob(plan: ExecutionPlan, o: AgentJobOptions): V1Job {
  const name = jobNameFor(plan.executionId, plan.attempt);
  const agentName = plan.agentRef.replace(/^[^:]*:/, '').replace(/^[^/]*\//, '');
  const httpGranted = plan.tools.some(t => t.name === 'http');
  const env: Record<string, string> = {
    ...o.baseEnv,
    AGENT_EXECUTION_ID: plan.executionId,
    AGENT_REF: plan.agentRef,
    AGENT_VERSION: plan.agentVersion,
    AGENT_ENTRYPOINT: plan.entrypoint,
    AGENT_INPUT: JSON.stringify(plan.input ?? {}),
    AGENT_TOOLS: JSON.stringify(plan.tools ?? []),
    AGENT_TIMEOUT_SECONDS: String(plan.resources.timeoutSeconds),
    AGENT_SECRETS_DIR: SECRETS_DIR,
    HOME: '/tmp',
  };
  if (plan.outputSchema) env.AGENT_OUTPUT_SCHEMA = JSON.stringify(plan.outputSchema);
  const secretEnv: V1EnvVar[] = [];
  if (httpGranted) {
    // Everything the runtime sends goes through the proxy (the NetworkPolicy
    // lets the pod reach nothing else), the llm and catalog tools through
    // its platform routes.
    env.AGENT_EGRESS_PROXY = o.egressProxyUrl ?? DEFAULT_EGRESS_PROXY_URL;
    if (plan.tools.some(t => t.name === 'llm')) env.AGENT_LLM_BASE_URL = PLATFORM_ORIGINS.llm;
    if (plan.tools.some(t => t.name === 'catalog')) {
      env.AGENT_CATALOG_BASE_URL = PLATFORM_ORIGINS.catalog;
      delete env.AGENT_CATALOG_TOKEN;
    }
    if (o.egressCredential) {
      secretEnv.push({
        name: 'AGENT_EGRESS_CREDENTIAL',
        valueFrom: {
          secretKeyRef: { name: o.egressCredential.secretName, key: o.egressCredential.key },
        },
      });
    }
  }

  const volumes: V1Volume[] = [];
  const volumeMounts: V1VolumeMount[] = [];
  const runSecret = o.runSecret;
  const mounted = plan.secrets.filter(
    ref => !runSecret || ref.source !== 'user' || runSecret.keys.includes(ref.name),
  );
  if (mounted.length) {
    volumes.push({
      name: 'secrets',
      projected: {
        defaultMode: 0o400,
        sources: mounted.map(ref => {
          const loc =
            runSecret && ref.source === 'user'
              ? { secretName: runSecret.name, key: ref.name }
              : secretLocation(ref, o.platformSecretName);
          return {
            secret: {
              name: loc.secretName,
              items: [{ key: loc.key, path: ref.name }],
            },
          };
        }),
      },
    });
    volumeMounts.push({ name: 'secrets', mountPath: SECRETS_DIR, readOnly: true });
  }
  const labels = {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.executionId]: labelSafe(plan.executionId),
    [LABELS.agent]: labelSafe(agentName),
  };
  return buildHardenedJob({
    name,
    namespace: o.namespace,
    image: plan.image,
    args: ['run', '/agent'],
    env: [...Object.entries(env).map(([k, v]) => ({ name: k, value: v })), ...secretEnv],
    cpu: plan.resources.cpu,
    memory: plan.resources.memory,
    deadlineSeconds:
      plan.resources.timeoutSeconds + (o.deadlineGraceSeconds ?? 15),
    backoffLimit: o.backoffLimit,
    ttlSecondsAfterFinished: o.ttlSecondsAfterFinished,
    imagePullPolicy: o.imagePullPolicy,
    labels,
    podLabels: {
      [LABELS.role]: 'agent-run',
      [LABELS.egress]: httpGranted ? 'allowed' : 'denied',
      [LABELS.platformApi]: plan.tools.some(t => t.name === 'llm' || t.name === 'catalog')
        ? 'allowed'
        : 'denied',
    },
    annotations: {
      [ANNOTATIONS.executionId]: plan.executionId,
      [ANNOTATIONS.attempt]: String(plan.attempt),
      [ANNOTATIONS.agentRef]: plan.agentRef,
      [ANNOTATIONS.agentVersion]: plan.agentVersion,
      [ANNOTATIONS.requestedBy]: plan.requestedBy,
      [ANNOTATIONS.plan]: plan.plan,
    },
    podAnnotations: o.podAnnotations,
    volumes,
    volumeMounts,
    failOnExitCodes: 'any-non-zero',
  });
}
