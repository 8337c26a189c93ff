import { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';
import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import {
  buildHardenedJob,
  KubernetesClusterTarget,
  loadClusterTargets,
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

/**
 * `kubernetes:job:create`: creates a batch/v1 Job for a platform task (e.g.
 * building an agent image in-cluster) with the same hardening as agent runs:
 * Pod Security `restricted`, resource limits, a deadline, no ServiceAccount
 * token, disruptions retried and container failures not. Dry run validates
 * the Job with a server-side dry-run create.
 *
 * @public
 */
export function createKubernetesJobCreateAction(options: KubernetesJobCreateActionOptions) {
  return createTemplateAction({
    id: 'kubernetes:job:create',
    description:
      'Creates a hardened Kubernetes Job (Pod Security restricted) for a platform task, optionally waiting for it',
    examples,
    supportsDryRun: true,
    schema: {
      input: {
        name: z => z.string().max(52).regex(DNS_LABEL, 'a DNS-1123 label').describe('Job name'),
        image: z => z.string().min(1).describe('Container image'),
        command: z => z.array(z.string()).optional().describe('Container command'),
        args: z => z.array(z.string()).optional().describe('Container arguments'),
        env: z => z.record(z.string(), z.string()).optional().describe('Environment variables (no secrets)'),
        cluster: z => z.string().optional().describe('Cluster name (default: the first configured)'),
        namespace: z => z.string().optional().describe('Namespace (default: the cluster namespace)'),
        cpu: z => z.string().default('500m').describe('CPU request and limit'),
        memory: z => z.string().default('512Mi').describe('Memory request and limit'),
        timeoutSeconds: z => z.number().int().min(1).max(86400).default(1800).describe('activeDeadlineSeconds'),
        labels: z => z.record(z.string(), z.string()).optional().describe('Extra labels'),
        wait: z => z.boolean().default(false).describe('Wait until the Job completes or fails'),
      },
      output: {
        jobName: z => z.string(),
        namespace: z => z.string(),
        cluster: z => z.string(),
        status: z => z.string().describe('created, dry-run, succeeded or failed'),
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
      const namespace = ctx.input.namespace ?? target.namespace;
      const body: V1Job = buildHardenedJob({
        name: ctx.input.name,
        namespace,
        image: ctx.input.image,
        command: ctx.input.command,
        args: ctx.input.args,
        env: Object.entries(ctx.input.env ?? {}).map(([name, value]) => ({ name, value })),
        cpu: ctx.input.cpu ?? '500m',
        memory: ctx.input.memory ?? '512Mi',
        deadlineSeconds: ctx.input.timeoutSeconds ?? 1800,
        labels: {
          ...ctx.input.labels,
          'app.kubernetes.io/managed-by': 'agent-platform-scaffolder',
          ...(ctx.task?.id ? { 'agentplatform.dev/scaffolder-task': String(ctx.task.id).slice(0, 63) } : {}),
        },
        containerName: 'task',
      });
      const batch = target.kubeConfig.makeApiClient(BatchV1Api);
      ctx.output('jobName', ctx.input.name);
      ctx.output('namespace', namespace);
      ctx.output('cluster', target.name);
      if (ctx.isDryRun) {
        await batch.createNamespacedJob({ namespace, body, dryRun: 'All' });
        ctx.logger.info(`Dry run: the cluster accepted Job ${namespace}/${ctx.input.name}`);
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
            ctx.logger.info(`Job ${namespace}/${ctx.input.name} already exists`);
          }
        },
      });
      ctx.logger.info(`Created Job ${namespace}/${ctx.input.name} in ${target.name}`);
      if (!ctx.input.wait) {
        ctx.output('status', 'created');
        return;
      }
      for (;;) {
        if (ctx.signal?.aborted) throw new Error('The task was cancelled');
        const job = await batch.readNamespacedJob({ name: ctx.input.name, namespace });
        const conditions = job.status?.conditions ?? [];
        if (conditions.some(c => c.type === 'Complete' && c.status === 'True')) {
          ctx.output('status', 'succeeded');
          return;
        }
        const failed = conditions.find(c => c.type === 'Failed' && c.status === 'True');
        if (failed) {
          ctx.output('status', 'failed');
          throw new Error(`Job ${namespace}/${ctx.input.name} failed: ${failed.reason ?? ''} ${failed.message ?? ''}`.trim());
        }
        await new Promise(r => setTimeout(r, options.pollIntervalMs ?? 2000));
      }
    },
  });
}
