import { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';
import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import {
  buildHardenedJob,
  KubernetesClusterTarget,
  loadClusterTargets,
  TASKS_NAMESPACE,
} from '@internal/plugin-infra-control-plane-node';
import { BatchV1Api, V1Job } from '@kubernetes/client-node';
import { examples } from './kubernetesJobCreate.examples';

/** Dependencies of {@link createKubernetesJobCreateAction}. @public */
export interface KubernetesJobCreateActionOptions {
  config: Config;
  /** Clusters to use instead of `infraControlPlane.kubernetes.clusters` (tests). */
  clusters?: KubernetesClusterTarget[];
  pollIntervalMs?: number;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The label this action sets itself (the informer of agent runs selects on its value). */
const MANAGED_BY_KEY = 'app.kubernetes.io/managed-by';

/**
 * Namespaces no platform task may name: the portal's, Kubernetes' own and
 * `default` (no Pod Security there). Every configured runs namespace is
 * reserved too (see {@link reservedNamespaces}).
 */
const RESERVED_NAMESPACES = [
  'agent-platform',
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'default',
];

/**
 * Whether a label or annotation key belongs to the platform or to Kubernetes:
 * prefix `agentplatform.dev/` (and its subdomains), `kubernetes.io/`,
 * `k8s.io/`, or `app.kubernetes.io/managed-by`.
 */
function isReservedKey(key: string): boolean {
  const normalized = key.trim().toLocaleLowerCase('en-US');
  if (normalized === MANAGED_BY_KEY) return true;
  const slash = normalized.indexOf('/');
  if (slash < 0) return false;
  const prefix = normalized.slice(0, slash);
  return (
    prefix === 'agentplatform.dev' ||
    prefix.endsWith('.agentplatform.dev') ||
    prefix === 'kubernetes.io' ||
    prefix === 'k8s.io'
  );
}

/** {@link RESERVED_NAMESPACES} plus the runs namespace of every configured cluster. */
function reservedNamespaces(clusters: KubernetesClusterTarget[]): Set<string> {
  return new Set([...RESERVED_NAMESPACES, ...clusters.map(c => c.namespace)]);
}

/**
 * Refuses what would let a Job pass for the platform's own: reserved label
 * and annotation keys (the runs namespace's NetworkPolicies and the infra
 * control plane's informer select on them) and reserved namespaces.
 */
function refuseReserved(
  input: {
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  },
  clusters: KubernetesClusterTarget[],
  defaultNamespace: string,
) {
  for (const [field, entries] of [
    ['labels', input.labels],
    ['annotations', input.annotations],
  ] as const) {
    const reserved = Object.keys(entries ?? {}).filter(isReservedKey);
    if (reserved.length) {
      throw new InputError(
        `kubernetes:job:create: ${field} ${reserved.join(', ')} ${
          reserved.length === 1 ? 'is' : 'are'
        } reserved for the platform (agentplatform.dev/, kubernetes.io/, k8s.io/, ${MANAGED_BY_KEY}); use other keys`,
      );
    }
  }
  if (
    input.namespace !== undefined &&
    reservedNamespaces(clusters).has(input.namespace)
  ) {
    throw new InputError(
      `kubernetes:job:create: namespace ${input.namespace} is reserved for the platform; leave namespace out to run in the cluster's tasks namespace (${defaultNamespace}), or name a namespace of your own`,
    );
  }
}

/**
 * `kubernetes:job:create`: creates a batch/v1 Job for a platform task (e.g.
 * building an agent image in-cluster) with the same hardening as agent runs:
 * Pod Security `restricted`, resource limits, a deadline, no ServiceAccount
 * token, disruptions retried and container failures not. Dry run validates
 * the Job with a server-side dry-run create. Labels, annotations and
 * namespaces reserved for the platform are refused (docs/permissions.md);
 * the action itself is for platform admins (the permission policy).
 *
 * @public
 */
export function createKubernetesJobCreateAction(
  options: KubernetesJobCreateActionOptions,
) {
  return createTemplateAction({
    id: 'kubernetes:job:create',
    description:
      'Creates a hardened Kubernetes Job (Pod Security restricted) for a platform task, optionally waiting for it',
    examples,
    supportsDryRun: true,
    schema: {
      input: {
        name: z =>
          z
            .string()
            .max(52)
            .regex(DNS_LABEL, 'a DNS-1123 label')
            .describe('Job name'),
        image: z => z.string().min(1).describe('Container image'),
        command: z =>
          z.array(z.string()).optional().describe('Container command'),
        args: z =>
          z.array(z.string()).optional().describe('Container arguments'),
        env: z =>
          z
            .record(z.string(), z.string())
            .optional()
            .describe('Environment variables (no secrets)'),
        cluster: z =>
          z
            .string()
            .optional()
            .describe('Cluster name (default: the first configured)'),
        namespace: z =>
          z
            .string()
            .optional()
            .describe(
              'Namespace (default: the cluster tasks namespace, agent-platform-tasks); never agent-platform, kube-*, default or a configured runs namespace',
            ),
        cpu: z => z.string().default('500m').describe('CPU request and limit'),
        memory: z =>
          z.string().default('512Mi').describe('Memory request and limit'),
        timeoutSeconds: z =>
          z
            .number()
            .int()
            .min(1)
            .max(86400)
            .default(1800)
            .describe('activeDeadlineSeconds'),
        labels: z =>
          z
            .record(z.string(), z.string())
            .optional()
            .describe(
              'Extra labels (not agentplatform.dev/, kubernetes.io/, k8s.io/ or app.kubernetes.io/managed-by)',
            ),
        annotations: z =>
          z
            .record(z.string(), z.string())
            .optional()
            .describe(
              'Extra Job annotations (the same keys are reserved as for labels)',
            ),
        wait: z =>
          z
            .boolean()
            .default(false)
            .describe('Wait until the Job completes or fails'),
      },
      output: {
        jobName: z => z.string(),
        namespace: z => z.string(),
        cluster: z => z.string(),
        status: z =>
          z.string().describe('created, dry-run, succeeded or failed'),
      },
    },
    async handler(ctx) {
      const clusters = options.clusters ?? loadClusterTargets(options.config);
      const target = ctx.input.cluster
        ? clusters.find(c => c.name === ctx.input.cluster)
        : clusters[0];
      if (!target) {
        throw new InputError(
          ctx.input.cluster
            ? `No cluster named ${ctx.input.cluster} in infraControlPlane.kubernetes.clusters`
            : 'No cluster configured in infraControlPlane.kubernetes.clusters',
        );
      }
      // Tasks run as the task identity in the tasks namespace, never as the
      // run identity in the runs namespace (k8s/15-runs-admission.yaml).
      const tasks = target.tasks ?? {
        namespace: TASKS_NAMESPACE,
        kubeConfig: target.kubeConfig,
      };
      refuseReserved(ctx.input, clusters, tasks.namespace);
      const namespace = ctx.input.namespace ?? tasks.namespace;
      const body: V1Job = buildHardenedJob({
        name: ctx.input.name,
        namespace,
        image: ctx.input.image,
        command: ctx.input.command,
        args: ctx.input.args,
        env: Object.entries(ctx.input.env ?? {}).map(([name, value]) => ({
          name,
          value,
        })),
        cpu: ctx.input.cpu ?? '500m',
        memory: ctx.input.memory ?? '512Mi',
        deadlineSeconds: ctx.input.timeoutSeconds ?? 1800,
        labels: {
          ...ctx.input.labels,
          [MANAGED_BY_KEY]: 'agent-platform-scaffolder',
          ...(ctx.task?.id
            ? {
                'agentplatform.dev/scaffolder-task': String(ctx.task.id).slice(
                  0,
                  63,
                ),
              }
            : {}),
        },
        containerName: 'task',
      });
      if (ctx.input.annotations) {
        body.metadata = {
          ...body.metadata,
          annotations: {
            ...body.metadata?.annotations,
            ...ctx.input.annotations,
          },
        };
      }
      const batch = tasks.kubeConfig.makeApiClient(BatchV1Api);
      ctx.output('jobName', ctx.input.name);
      ctx.output('namespace', namespace);
      ctx.output('cluster', target.name);
      if (ctx.isDryRun) {
        await batch.createNamespacedJob({ namespace, body, dryRun: 'All' });
        ctx.logger.info(
          `Dry run: the cluster accepted Job ${namespace}/${ctx.input.name}`,
        );
        ctx.output('status', 'dry-run');
        return;
      }
      await ctx.checkpoint({
        key: `k8s-job-${namespace}-${ctx.input.name}`,
        fn: async () => {
          try {
            await batch.createNamespacedJob({ namespace, body });
          } catch (error: any) {
            if (error?.code !== 409) throw error;
            ctx.logger.info(
              `Job ${namespace}/${ctx.input.name} already exists`,
            );
          }
        },
      });
      ctx.logger.info(
        `Created Job ${namespace}/${ctx.input.name} in ${target.name}`,
      );
      if (!ctx.input.wait) {
        ctx.output('status', 'created');
        return;
      }
      for (;;) {
        if (ctx.signal?.aborted) throw new Error('The task was cancelled');
        const job = await batch.readNamespacedJob({
          name: ctx.input.name,
          namespace,
        });
        const conditions = job.status?.conditions ?? [];
        if (
          conditions.some(c => c.type === 'Complete' && c.status === 'True')
        ) {
          ctx.output('status', 'succeeded');
          return;
        }
        const failed = conditions.find(
          c => c.type === 'Failed' && c.status === 'True',
        );
        if (failed) {
          ctx.output('status', 'failed');
          throw new Error(
            `Job ${namespace}/${ctx.input.name} failed: ${
              failed.reason ?? ''
            } ${failed.message ?? ''}`.trim(),
          );
        }
        await new Promise(r => setTimeout(r, options.pollIntervalMs ?? 2000));
      }
    },
  });
}
