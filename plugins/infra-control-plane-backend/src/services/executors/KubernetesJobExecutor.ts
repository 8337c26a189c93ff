import { LoggerService } from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { ExecutionPlan } from '@internal/plugin-agents-common';
import { V1Job, V1Pod } from '@kubernetes/client-node';
import {
  EGRESS_CREDENTIAL_KEY,
  KubernetesClusterTarget,
  loadClusterTargets,
} from '@internal/plugin-infra-control-plane-node';
import { ExecutionRecord } from '../../database/ExecutionStore';
import { ANNOTATIONS, buildAgentJob, jobNameFor } from './jobSpec';
import { Backoff, isTransient, statusCode } from './kubernetes/apiErrors';
import { ClusterWatch } from './kubernetes/ClusterWatch';
import { createOrAdoptJob } from './kubernetes/createJob';
import {
  agentExitCode,
  isFinished,
  jobOutcome,
  latestPodOf,
} from './kubernetes/jobOutcome';
import { PodLogs } from './kubernetes/PodLogs';
import { RunSecrets } from './kubernetes/RunSecrets';
import {
  Cluster,
  InFlight,
  KubernetesApiCallCounts,
  KubernetesJobExecutorOptions,
} from './kubernetes/types';
import {
  AgentExecutor,
  ExecutorExit,
  ExecutorHealth,
  ExecutorListener,
} from './types';

export type {
  KubernetesApiCallCounts,
  KubernetesClusterTarget,
  KubernetesJobExecutorOptions,
};
export { loadClusterTargets };

/**
 * Runs each plan as a hardened batch/v1 Job and watches all of them through
 * one shared Job informer and one Pod informer per cluster + namespace
 * (label-selected), so the API calls per run stay constant: create, one log
 * read at the end, and a delete only when cancelled.
 *
 * - Job names derive from the execution id: a repeated dispatch gets 409 and
 *   reads the existing Job instead of creating a second.
 * - API errors and an unreachable apiserver are retried with backoff; watches
 *   are re-established and re-listed, so nothing is lost while it is down.
 * - A Job that fails because the agent failed (any non-zero exit) is not
 *   retried (podFailurePolicy FailJob); evictions and other disruptions are
 *   (DisruptionTarget -> Ignore).
 *
 * @public
 */
export class KubernetesJobExecutor implements AgentExecutor {
  readonly kind = 'kubernetes' as const;
  readonly apiCalls: KubernetesApiCallCounts = {
    create: 0,
    read: 0,
    delete: 0,
    log: 0,
    secretCreate: 0,
    secretDelete: 0,
    informerList: 0,
    informerWatch: 0,
  };
  private listener?: ExecutorListener;
  private readonly watch: ClusterWatch;
  private readonly secrets: RunSecrets;
  private readonly logs: PodLogs;
  private readonly inflight = new Map<string, InFlight>();
  private readonly maxRetryDelayMs: number;
  private stopped = false;

  static fromConfig(
    config: Config,
    deps: {
      logger: LoggerService;
      baseEnv?: Record<string, string>;
      resolveUserSecrets?: KubernetesJobExecutorOptions['resolveUserSecrets'];
      egressCredential?: KubernetesJobExecutorOptions['egressCredential'];
    },
  ): KubernetesJobExecutor {
    const k8s = config.getConfig('infraControlPlane.kubernetes');
    const clusters = loadClusterTargets(config);
    if (clusters.length === 0) {
      throw new Error('infraControlPlane.kubernetes.clusters is empty');
    }
    return new KubernetesJobExecutor({
      logger: deps.logger,
      clusters,
      baseEnv: deps.baseEnv,
      platformSecretName: k8s.getOptionalString('platformSecretName'),
      ttlSecondsAfterFinished: k8s.getOptionalNumber('ttlSecondsAfterFinished'),
      backoffLimit: k8s.getOptionalNumber('backoffLimit'),
      deadlineGraceSeconds: k8s.getOptionalNumber('deadlineGraceSeconds'),
      imagePullPolicy: k8s.getOptionalString('imagePullPolicy'),
      resolveUserSecrets: deps.resolveUserSecrets,
      egressCredential: deps.egressCredential,
    });
  }

  constructor(private readonly options: KubernetesJobExecutorOptions) {
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 5000;
    this.watch = new ClusterWatch(options.clusters, {
      logger: options.logger,
      apiCalls: this.apiCalls,
      maxRetryDelayMs: options.maxRetryDelayMs,
      events: {
        onJob: (job, deleted) => this.onJob(job, deleted),
        onPod: pod => this.onPod(pod),
        onSynced: cluster => this.recheck(cluster),
      },
    });
    this.secrets = new RunSecrets({
      logger: options.logger,
      apiCalls: this.apiCalls,
      maxRetryDelayMs: this.maxRetryDelayMs,
      resolveUserSecrets: options.resolveUserSecrets,
      egressCredential: options.egressCredential,
      shouldStop: run => this.shouldStop(run),
      stopped: () => this.stopped,
    });
    this.logs = new PodLogs({
      apiCalls: this.apiCalls,
      listener: () => this.listener!,
      maxLogReadBytes: options.maxLogReadBytes,
    });
  }

  async start(listener: ExecutorListener): Promise<void> {
    this.listener = listener;
    await this.watch.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watch.stop();
  }

  async run(plan: ExecutionPlan): Promise<void> {
    if (this.inflight.has(plan.executionId)) return;
    const cluster = this.watch.clusters[0];
    const run: InFlight = {
      plan,
      jobName: jobNameFor(plan.executionId, plan.attempt),
      cluster,
      created: false,
      running: false,
      finishing: false,
      cancelled: false,
      secretName: this.secrets.nameFor(plan),
    };
    this.inflight.set(plan.executionId, run);
    this.createJob(run).catch(error =>
      this.options.logger.error('Job creation loop failed', {
        executionId: plan.executionId,
        error: String(error),
      }),
    );
  }

  private shouldStop(run: InFlight) {
    return (
      this.stopped ||
      run.cancelled ||
      this.inflight.get(run.plan.executionId) !== run
    );
  }

  /** Creates the Job, retrying transient errors; 409 means it already exists. */
  private async createJob(run: InFlight) {
    const { cluster, plan } = run;
    const ns = cluster.target.namespace;
    let secretValues: Map<string, string> | undefined;
    if (run.secretName) {
      try {
        secretValues = await this.secrets.values(run);
      } catch (error: any) {
        await this.fail(run, {
          infraReason: 'dispatch-failed',
          message: `The egress credential of the run could not be made (${
            error?.name ?? 'Error'
          })`,
        });
        return;
      }
      if (!secretValues) return;
    }
    const userKeys = [...(secretValues?.keys() ?? [])].filter(
      key => key !== EGRESS_CREDENTIAL_KEY,
    );
    const body = buildAgentJob(plan, {
      namespace: ns,
      platformSecretName:
        this.options.platformSecretName ?? 'agent-platform-secrets',
      baseEnv: this.options.baseEnv,
      ttlSecondsAfterFinished: this.options.ttlSecondsAfterFinished,
      backoffLimit: this.options.backoffLimit,
      deadlineGraceSeconds: this.options.deadlineGraceSeconds,
      imagePullPolicy: this.options.imagePullPolicy,
      podAnnotations: this.options.podAnnotations?.(plan),
      // User refs come from the run Secret only when the executor resolved them.
      runSecret:
        run.secretName && this.secrets.needsUserSecrets(plan)
          ? { name: run.secretName, keys: userKeys }
          : undefined,
      egressCredential:
        run.secretName && secretValues?.has(EGRESS_CREDENTIAL_KEY)
          ? { secretName: run.secretName, key: EGRESS_CREDENTIAL_KEY }
          : undefined,
    });
    const created = await createOrAdoptJob(run, body, {
      apiCalls: this.apiCalls,
      logger: this.options.logger,
      maxRetryDelayMs: this.maxRetryDelayMs,
      shouldStop: () => this.shouldStop(run),
    });
    if (!created) return;
    if ('refused' in created) {
      await this.fail(run, created.refused);
      return;
    }
    const job = created.job;
    // The Job first, then its Secret owned by it: the pod waits for the
    // Secret to mount, and the garbage collector deletes both together.
    if (
      secretValues?.size &&
      !(await this.secrets.create(run, job, secretValues))
    ) {
      if (this.stopped) return;
      run.created = true;
      run.finishing = true;
      await this.deleteJob(run);
      await this.fail(run, {
        infraReason: 'dispatch-failed',
        message: `The cluster refused the Secret ${run.secretName} of the run`,
      });
      return;
    }
    secretValues = undefined;
    run.created = true;
    if (run.cancelled) {
      // Cancelled while the Job was being created.
      await this.deleteJob(run);
      return;
    }
    await this.listener!.dispatched(plan.executionId, {
      cluster: cluster.target.name,
      jobName: run.jobName,
    });
    const seen = cluster.jobs.get(run.jobName, ns);
    if (seen) this.onJob(seen, false);
  }

  async cancel(executionId: string): Promise<void> {
    const run = this.inflight.get(executionId);
    if (!run) return;
    run.cancelled = true;
    if (!run.created) {
      // Never reached the cluster; the create loop sees `cancelled` and stops.
      await this.fail(run, {
        cancelled: true,
        message: 'Cancelled before the Job was created',
      });
      return;
    }
    await this.deleteJob(run);
  }

  private async deleteJob(run: InFlight) {
    const ns = run.cluster.target.namespace;
    const backoff = new Backoff(this.maxRetryDelayMs);
    for (;;) {
      try {
        this.apiCalls.delete += 1;
        await run.cluster.batch.deleteNamespacedJob({
          name: run.jobName,
          namespace: ns,
          propagationPolicy: 'Foreground',
        });
        // The GC would delete the Secret with the Job; do not wait for it.
        await this.secrets.delete(run);
        return; // the informer's delete event finishes the run
      } catch (error: any) {
        if (statusCode(error) === 404) {
          await this.secrets.delete(run);
          await this.fail(run, { cancelled: true, message: 'Cancelled' });
          return;
        }
        if (!isTransient(error) || this.stopped) throw error;
      }
      await backoff.wait();
    }
  }

  /**
   * After a restart: adopt every unfinished record. Jobs that exist are driven
   * by the informer; records never dispatched get their Job created (409-safe);
   * dispatched records whose Job is gone are reported lost.
   */
  async reconcile(records: ExecutionRecord[]): Promise<void> {
    for (const record of records) {
      if (this.inflight.has(record.executionId)) continue;
      const cluster =
        this.watch.clusters.find(c => c.target.name === record.cluster) ??
        this.watch.clusters[0];
      const run: InFlight = {
        plan: record.plan,
        jobName:
          record.jobName ?? jobNameFor(record.executionId, record.attempt),
        cluster,
        created: record.dispatched,
        running: record.state === 'running',
        finishing: false,
        cancelled: record.cancelRequested,
        secretName: this.secrets.nameFor(record.plan),
      };
      this.inflight.set(record.executionId, run);
      const check = () => {
        const job = cluster.jobs.get(run.jobName, cluster.target.namespace);
        if (job) {
          run.created = true;
          if (run.cancelled && !job.metadata?.deletionTimestamp) {
            this.deleteJob(run).catch(() => undefined);
          } else if (run.secretName && !run.cancelled && !isFinished(job)) {
            // A crash between creating the Job and its Secret: make sure it exists (409-safe).
            this.secrets.ensure(run, job).catch(() => undefined);
          }
          this.onJob(job, false);
        } else if (!record.dispatched && !run.cancelled) {
          this.inflight.delete(record.executionId);
          this.run(record.plan);
        } else if (run.cancelled) {
          this.fail(run, { cancelled: true, message: 'Cancelled' });
        } else {
          this.fail(run, {
            infraReason: 'job-lost',
            message: `Job ${run.jobName} no longer exists in ${cluster.target.name}/${cluster.target.namespace}`,
          });
        }
      };
      if (cluster.synced) check();
      else cluster.afterSync.push(check);
    }
  }

  async health(): Promise<ExecutorHealth> {
    return { ...(await this.watch.health()), running: this.inflight.size };
  }

  /** Re-evaluates a cluster's in-flight runs against its (re-)listed state. */
  private recheck(cluster: Cluster) {
    for (const run of this.inflight.values()) {
      if (run.cluster !== cluster || !run.created) continue;
      const job = cluster.jobs.get(run.jobName, cluster.target.namespace);
      if (job) this.onJob(job, false);
    }
  }

  // --- watching ---------------------------------------------------------------

  private runOf(obj: V1Job | V1Pod): InFlight | undefined {
    const id = obj.metadata?.annotations?.[ANNOTATIONS.executionId];
    return id ? this.inflight.get(id) : undefined;
  }

  private onPod(pod: V1Pod) {
    const run = this.runOf(pod);
    if (!run || run.finishing) return;
    if (pod.status?.phase === 'Running' && !run.follow && pod.metadata?.name) {
      this.logs.follow(run, pod.metadata.name);
    }
    if (run.running) return;
    if (pod.status?.phase === 'Running') {
      run.running = true;
      const at = pod.status.startTime
        ? new Date(pod.status.startTime as any).toISOString()
        : new Date().toISOString();
      this.listener!.running(run.plan.executionId, at).catch(() => undefined);
    }
  }

  private onJob(job: V1Job, deleted: boolean) {
    const run = this.runOf(job);
    if (!run || run.finishing) return;
    run.created = true;
    if (deleted) {
      this.fail(
        run,
        run.cancelled
          ? { cancelled: true, message: 'Cancelled; the Job was deleted' }
          : {
              infraReason: 'job-deleted',
              message: `Job ${run.jobName} was deleted before it finished`,
            },
      );
      return;
    }
    // A run that finished on its own while a cancel was on its way: the real outcome wins.
    const outcome = jobOutcome(job, () => agentExitCode(latestPodOf(run)));
    if (outcome.ended) {
      this.finishWithLogs(run, outcome.exit);
    } else if (outcome.running && !run.running) {
      run.running = true;
      this.listener!.running(
        run.plan.executionId,
        new Date().toISOString(),
      ).catch(() => undefined);
    }
  }

  /** Reads the rest of the pod's log (the runtime's events) and reports the end. */
  private finishWithLogs(run: InFlight, exit: ExecutorExit) {
    run.finishing = true;
    this.logs
      .finish(run, latestPodOf(run))
      .then(() => this.fail(run, exit))
      .catch(error =>
        this.options.logger.error('Finishing a Kubernetes run failed', {
          executionId: run.plan.executionId,
          error: String(error),
        }),
      );
  }

  private async fail(run: InFlight, exit: ExecutorExit) {
    const id = run.plan.executionId;
    if (this.inflight.get(id) !== run) return;
    this.inflight.delete(id);
    run.finishing = true;
    await this.listener!.exited(id, exit);
  }
}
