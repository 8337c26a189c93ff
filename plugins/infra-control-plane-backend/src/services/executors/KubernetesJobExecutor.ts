import { LoggerService } from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { ExecutionPlan } from '@internal/plugin-agents-common';
import {
  BatchV1Api,
  CoreV1Api,
  Informer,
  Log,
  ObjectCache,
  V1Job,
  V1Pod,
  V1Secret,
  VersionApi,
  makeInformer,
} from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import {
  EGRESS_CREDENTIAL_KEY,
  KubernetesClusterTarget,
  loadClusterTargets,
} from '@internal/plugin-infra-control-plane-node';
import { ExecutionRecord } from '../../database/ExecutionStore';

export type { KubernetesClusterTarget };
export { loadClusterTargets };
import {
  AGENT_CONTAINER,
  ANNOTATIONS,
  LABELS,
  MANAGED_BY,
  buildAgentJob,
  jobNameFor,
  labelSafe,
  runSecretNameFor,
} from './jobSpec';
import {
  AgentExecutor,
  ExecutorExit,
  ExecutorHealth,
  ExecutorListener,
} from './types';

/** Options of {@link KubernetesJobExecutor}. @public */
export interface KubernetesJobExecutorOptions {
  logger: LoggerService;
  clusters: KubernetesClusterTarget[];
  baseEnv?: Record<string, string>;
  platformSecretName?: string;
  ttlSecondsAfterFinished?: number;
  backoffLimit?: number;
  deadlineGraceSeconds?: number;
  imagePullPolicy?: string;
  /** Extra pod annotations per plan. */
  podAnnotations?: (plan: ExecutionPlan) => Record<string, string>;
  /** Bytes of pod log read at the end of a run (default 1 MiB). */
  maxLogReadBytes?: number;
  /** Longest wait between retries of API calls and watches (default 5000 ms). */
  maxRetryDelayMs?: number;
  /**
   * Resolves the values of a plan's `user` secrets (name -> value). When set,
   * the executor puts them into one Secret per execution, owned by the Job.
   * Without it, `user` refs must name Secrets that already exist.
   */
  resolveUserSecrets?: (plan: ExecutionPlan) => Promise<Map<string, string>>;
  /**
   * The egress proxy credential of a plan granted `http`. When set, it goes
   * into the run's Secret (key `EGRESS_CREDENTIAL_KEY`) and the pod reads it
   * as `AGENT_EGRESS_CREDENTIAL` through a `secretKeyRef`.
   */
  egressCredential?: (plan: ExecutionPlan) => string;
}

interface Cluster {
  target: KubernetesClusterTarget;
  batch: BatchV1Api;
  core: CoreV1Api;
  version: VersionApi;
  jobs: Informer<V1Job> & ObjectCache<V1Job>;
  pods: Informer<V1Pod> & ObjectCache<V1Pod>;
  synced: boolean;
  /** Informers whose list + watch are up. */
  ok: Set<Informer<any>>;
  restarting: Set<Informer<any>>;
  errors: number;
  lastError?: string;
  afterSync: Array<() => void>;
}

interface InFlight {
  plan: ExecutionPlan;
  jobName: string;
  cluster: Cluster;
  created: boolean;
  running: boolean;
  finishing: boolean;
  cancelled: boolean;
  /** Name of the per-execution Secret, when the run has `user` secrets to put there. */
  secretName?: string;
  /** Live log stream of the running pod, and the bytes it delivered. */
  follow?: { controller?: AbortController; bytes: number; pod: string };
}

/** Counts of the API calls the executor made itself (not the shared watches). @public */
export interface KubernetesApiCallCounts {
  create: number;
  read: number;
  delete: number;
  log: number;
  /** creates / deletes of per-execution Secrets */
  secretCreate: number;
  secretDelete: number;
  /** list requests of the shared informers (start + re-lists). */
  informerList: number;
  /** watch requests of the shared informers (start + re-watches). */
  informerWatch: number;
}

const SELECTOR = `${LABELS.managedBy}=${MANAGED_BY}`;

function statusCode(error: any): number | undefined {
  return error?.code ?? error?.statusCode ?? error?.response?.statusCode;
}

/** Transient: network failures, 5xx, 408, 429. */
function isTransient(error: any): boolean {
  const code = statusCode(error);
  return (
    typeof code !== 'number' ||
    code >= 500 ||
    code === 408 ||
    code === 429 ||
    code === 0
  );
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

function isFinished(job: V1Job): boolean {
  return (job.status?.conditions ?? []).some(
    c => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
}

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
  private readonly clusters: Cluster[];
  private readonly inflight = new Map<string, InFlight>();
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
    this.clusters = options.clusters.map(target => this.connect(target));
  }

  private connect(target: KubernetesClusterTarget): Cluster {
    const kc = target.kubeConfig;
    const batch = kc.makeApiClient(BatchV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const ns = target.namespace;
    const jobs = makeInformer<V1Job>(
      kc,
      `/apis/batch/v1/namespaces/${ns}/jobs`,
      () => {
        this.apiCalls.informerList += 1;
        return batch.listNamespacedJob({
          namespace: ns,
          labelSelector: SELECTOR,
        });
      },
      SELECTOR,
    );
    const pods = makeInformer<V1Pod>(
      kc,
      `/api/v1/namespaces/${ns}/pods`,
      () => {
        this.apiCalls.informerList += 1;
        return core.listNamespacedPod({
          namespace: ns,
          labelSelector: SELECTOR,
        });
      },
      SELECTOR,
    );
    const cluster: Cluster = {
      target,
      batch,
      core,
      version: kc.makeApiClient(VersionApi),
      jobs,
      pods,
      synced: false,
      ok: new Set(),
      restarting: new Set(),
      errors: 0,
      afterSync: [],
    };
    jobs.on('add', job => this.onJob(job, false));
    jobs.on('update', job => this.onJob(job, false));
    jobs.on('delete', job => this.onJob(job, true));
    pods.on('add', pod => this.onPod(pod));
    pods.on('update', pod => this.onPod(pod));
    for (const informer of [jobs, pods]) {
      informer.on('connect', () => {
        this.apiCalls.informerWatch += 1;
      });
      informer.on('error', (error: any) => {
        cluster.errors += 1;
        cluster.ok.delete(informer);
        cluster.lastError = String(error?.message ?? error);
        if (this.stopped) return;
        this.options.logger.warn('Kubernetes watch failed, restarting', {
          cluster: target.name,
          error: cluster.lastError,
        });
        this.restartLater(cluster, informer);
      });
    }
    return cluster;
  }

  /** Starts (or restarts) one informer; true when its list and watch came up. */
  private async startInformer(
    cluster: Cluster,
    informer: Informer<any>,
  ): Promise<boolean> {
    const errorsBefore = cluster.errors;
    try {
      // ListWatch reports list failures through the error callback and
      // resolves; a watch that cannot be opened rejects.
      await informer.start();
    } catch (error) {
      cluster.errors += 1;
      cluster.lastError = String((error as any)?.message ?? error);
    }
    if (cluster.errors !== errorsBefore) return false;
    cluster.ok.add(informer);
    if (cluster.ok.size === 2) this.markSynced(cluster);
    return true;
  }

  private restartLater(cluster: Cluster, informer: Informer<any>) {
    if (this.stopped || cluster.restarting.has(informer)) return;
    cluster.restarting.add(informer);
    setTimeout(async () => {
      cluster.restarting.delete(informer);
      if (this.stopped) return;
      if (!(await this.startInformer(cluster, informer))) {
        this.restartLater(cluster, informer);
      }
    }, Math.min(this.options.maxRetryDelayMs ?? 5000, 1000));
  }

  private markSynced(cluster: Cluster) {
    cluster.lastError = undefined;
    if (!cluster.synced) {
      cluster.synced = true;
      for (const fn of cluster.afterSync.splice(0)) fn();
    }
    // Re-evaluate in-flight runs against the (re-)listed state.
    for (const run of this.inflight.values()) {
      if (run.cluster !== cluster || !run.created) continue;
      const job = cluster.jobs.get(run.jobName, cluster.target.namespace);
      if (job) this.onJob(job, false);
    }
  }

  async start(listener: ExecutorListener): Promise<void> {
    this.listener = listener;
    await Promise.all(
      this.clusters.map(async cluster => {
        for (const informer of [cluster.jobs, cluster.pods]) {
          if (!(await this.startInformer(cluster, informer))) {
            this.restartLater(cluster, informer);
          }
        }
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const cluster of this.clusters) {
      await cluster.jobs.stop();
      await cluster.pods.stop();
    }
  }

  async run(plan: ExecutionPlan): Promise<void> {
    if (this.inflight.has(plan.executionId)) return;
    const cluster = this.clusters[0];
    const run: InFlight = {
      plan,
      jobName: jobNameFor(plan.executionId, plan.attempt),
      cluster,
      created: false,
      running: false,
      finishing: false,
      cancelled: false,
      secretName: this.runSecretName(plan),
    };
    this.inflight.set(plan.executionId, run);
    this.createJob(run).catch(error =>
      this.options.logger.error('Job creation loop failed', {
        executionId: plan.executionId,
        error: String(error),
      }),
    );
  }

  /**
   * The per-execution Secret's name, when the run has `user` secrets the
   * executor resolves or an egress credential.
   */
  private runSecretName(plan: ExecutionPlan): string | undefined {
    return this.needsUserSecrets(plan) || this.needsEgressCredential(plan)
      ? runSecretNameFor(plan.executionId, plan.attempt)
      : undefined;
  }

  private needsUserSecrets(plan: ExecutionPlan): boolean {
    return Boolean(
      this.options.resolveUserSecrets &&
        plan.secrets.some(ref => ref.source === 'user'),
    );
  }

  private needsEgressCredential(plan: ExecutionPlan): boolean {
    return Boolean(
      this.options.egressCredential && plan.tools.some(t => t.name === 'http'),
    );
  }

  /**
   * What goes into the run Secret: the resolved user secrets (retried until
   * they resolve; undefined when the run stopped meanwhile) and the egress
   * credential. Throws when the credential cannot be made.
   */
  private async runSecretValues(
    run: InFlight,
  ): Promise<Map<string, string> | undefined> {
    let values = new Map<string, string>();
    if (this.needsUserSecrets(run.plan)) {
      const resolved = await this.resolveUserSecrets(run);
      if (!resolved) return undefined;
      values = new Map(resolved);
    }
    if (this.needsEgressCredential(run.plan)) {
      values.set(
        EGRESS_CREDENTIAL_KEY,
        this.options.egressCredential!(run.plan),
      );
    }
    return values;
  }

  private shouldStop(run: InFlight) {
    return (
      this.stopped ||
      run.cancelled ||
      this.inflight.get(run.plan.executionId) !== run
    );
  }

  /** Resolves the run's user secrets, retrying failures; undefined when the run stopped meanwhile. */
  private async resolveUserSecrets(
    run: InFlight,
  ): Promise<Map<string, string> | undefined> {
    let delay = 250;
    for (let attempt = 1; ; attempt++) {
      if (this.shouldStop(run)) return undefined;
      try {
        return await this.options.resolveUserSecrets!(run.plan);
      } catch (error: any) {
        if (attempt === 1 || attempt % 10 === 0) {
          this.options.logger.warn('Resolving user secrets failed, retrying', {
            executionId: run.plan.executionId,
            attempt,
            error: String(error?.name ?? 'Error'),
          });
        }
      }
      await sleep(delay);
      delay = Math.min(delay * 2, this.options.maxRetryDelayMs ?? 5000);
    }
  }

  /**
   * Creates the run's Secret with the resolved values, owned by its Job (so
   * the garbage collector deletes it with the Job). 409: it exists already
   * (a repeated dispatch). Values are never logged. False when it failed for good.
   */
  private async createRunSecret(
    run: InFlight,
    job: V1Job,
    values: Map<string, string>,
  ): Promise<boolean> {
    const { cluster, plan } = run;
    const ns = cluster.target.namespace;
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      immutable: true,
      metadata: {
        name: run.secretName!,
        namespace: ns,
        labels: {
          [LABELS.managedBy]: MANAGED_BY,
          [LABELS.executionId]: labelSafe(plan.executionId),
        },
        annotations: {
          [ANNOTATIONS.executionId]: plan.executionId,
          [ANNOTATIONS.attempt]: String(plan.attempt),
        },
        ownerReferences: [
          {
            apiVersion: 'batch/v1',
            kind: 'Job',
            name: job.metadata!.name!,
            uid: job.metadata!.uid!,
            controller: true,
          },
        ],
      },
      stringData: Object.fromEntries(values),
    };
    let delay = 250;
    for (let attempt = 1; ; attempt++) {
      if (this.stopped) return false;
      try {
        this.apiCalls.secretCreate += 1;
        await cluster.core.createNamespacedSecret({ namespace: ns, body });
        return true;
      } catch (error: any) {
        const code = statusCode(error);
        if (code === 409) return true;
        if (!isTransient(error)) {
          // Only the status: an error body could echo what was sent.
          this.options.logger.warn('The cluster refused the run Secret', {
            executionId: plan.executionId,
            status: code,
          });
          return false;
        }
        if (attempt === 1 || attempt % 10 === 0) {
          this.options.logger.warn('Creating the run Secret failed, retrying', {
            executionId: plan.executionId,
            attempt,
            status: code,
          });
        }
      }
      await sleep(delay);
      delay = Math.min(delay * 2, this.options.maxRetryDelayMs ?? 5000);
    }
  }

  /** Deletes the run's Secret (cancel); 404 is fine, the GC may have been first. */
  private async deleteRunSecret(run: InFlight) {
    if (!run.secretName) return;
    let delay = 250;
    for (let attempt = 1; attempt <= 10; attempt++) {
      try {
        this.apiCalls.secretDelete += 1;
        await run.cluster.core.deleteNamespacedSecret({
          name: run.secretName,
          namespace: run.cluster.target.namespace,
        });
        return;
      } catch (error: any) {
        if (statusCode(error) === 404 || !isTransient(error) || this.stopped) {
          return;
        }
      }
      await sleep(delay);
      delay = Math.min(delay * 2, this.options.maxRetryDelayMs ?? 5000);
    }
  }

  /** Creates the Job, retrying transient errors; 409 means it already exists. */
  private async createJob(run: InFlight) {
    const { cluster, plan } = run;
    const ns = cluster.target.namespace;
    let secretValues: Map<string, string> | undefined;
    if (run.secretName) {
      try {
        secretValues = await this.runSecretValues(run);
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
        run.secretName && this.needsUserSecrets(plan)
          ? { name: run.secretName, keys: userKeys }
          : undefined,
      egressCredential:
        run.secretName && secretValues?.has(EGRESS_CREDENTIAL_KEY)
          ? { secretName: run.secretName, key: EGRESS_CREDENTIAL_KEY }
          : undefined,
    });
    let delay = 250;
    let job: V1Job | undefined;
    for (let attempt = 1; ; attempt++) {
      if (this.shouldStop(run)) {
        return;
      }
      try {
        this.apiCalls.create += 1;
        job = await cluster.batch.createNamespacedJob({ namespace: ns, body });
        break;
      } catch (error: any) {
        const code = statusCode(error);
        if (code === 409) {
          this.apiCalls.read += 1;
          try {
            const existing = await cluster.batch.readNamespacedJob({
              name: run.jobName,
              namespace: ns,
            });
            const owner =
              existing.metadata?.annotations?.[ANNOTATIONS.executionId];
            if (owner !== plan.executionId) {
              await this.fail(run, {
                infraReason: 'dispatch-failed',
                message: `Job ${run.jobName} exists and belongs to another execution`,
              });
              return;
            }
            job = existing;
            break;
          } catch (readError: any) {
            if (statusCode(readError) === 404) continue; // deleted meanwhile
            if (!isTransient(readError)) throw readError;
          }
        } else if (!isTransient(error)) {
          await this.fail(run, {
            infraReason: 'dispatch-failed',
            message: `The cluster refused the Job (HTTP ${code}): ${String(
              error?.body?.message ?? error?.message ?? '',
            ).slice(0, 500)}`,
          });
          return;
        } else if (attempt === 1 || attempt % 10 === 0) {
          this.options.logger.warn('Creating the Job failed, retrying', {
            executionId: plan.executionId,
            attempt,
            error: String(error?.message ?? error),
          });
        }
      }
      await sleep(delay);
      delay = Math.min(delay * 2, this.options.maxRetryDelayMs ?? 5000);
    }
    // The Job first, then its Secret owned by it: the pod waits for the
    // Secret to mount, and the garbage collector deletes both together.
    if (
      secretValues?.size &&
      !(await this.createRunSecret(run, job!, secretValues))
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
    let delay = 250;
    for (;;) {
      try {
        this.apiCalls.delete += 1;
        await run.cluster.batch.deleteNamespacedJob({
          name: run.jobName,
          namespace: ns,
          propagationPolicy: 'Foreground',
        });
        // The GC would delete the Secret with the Job; do not wait for it.
        await this.deleteRunSecret(run);
        return; // the informer's delete event finishes the run
      } catch (error: any) {
        if (statusCode(error) === 404) {
          await this.deleteRunSecret(run);
          await this.fail(run, { cancelled: true, message: 'Cancelled' });
          return;
        }
        if (!isTransient(error) || this.stopped) throw error;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, this.options.maxRetryDelayMs ?? 5000);
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
        this.clusters.find(c => c.target.name === record.cluster) ??
        this.clusters[0];
      const run: InFlight = {
        plan: record.plan,
        jobName:
          record.jobName ?? jobNameFor(record.executionId, record.attempt),
        cluster,
        created: record.dispatched,
        running: record.state === 'running',
        finishing: false,
        cancelled: record.cancelRequested,
        secretName: this.runSecretName(record.plan),
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
            this.ensureRunSecret(run, job).catch(() => undefined);
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

  private async ensureRunSecret(run: InFlight, job: V1Job) {
    const values = await this.runSecretValues(run);
    if (values?.size) await this.createRunSecret(run, job, values);
  }

  async health(): Promise<ExecutorHealth> {
    const results = await Promise.all(
      this.clusters.map(async c => {
        try {
          await Promise.race([
            c.version.getCode(),
            sleep(3000).then(() => {
              throw new Error('timed out after 3s');
            }),
          ]);
          return {
            ok: true,
            text: `${c.target.name}: reachable${
              c.ok.size === 2 ? '' : ' (watch reconnecting)'
            }`,
          };
        } catch (error: any) {
          return {
            ok: false,
            text: `${c.target.name}: unreachable (${error?.message ?? error})`,
          };
        }
      }),
    );
    return {
      ok: results.some(r => r.ok),
      message: results.map(r => r.text).join('; '),
      running: this.inflight.size,
    };
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
      this.followLogs(run, pod.metadata.name);
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
    const conditions = job.status?.conditions ?? [];
    const complete = conditions.find(
      c => c.type === 'Complete' && c.status === 'True',
    );
    const failed = conditions.find(
      c => c.type === 'Failed' && c.status === 'True',
    );
    if (!complete && !failed) {
      if (
        !run.running &&
        (job.status?.active ?? 0) > 0 &&
        (job.status?.ready ?? 0) > 0
      ) {
        run.running = true;
        this.listener!.running(
          run.plan.executionId,
          new Date().toISOString(),
        ).catch(() => undefined);
      }
      return;
    }
    if (run.cancelled) {
      // Finished on its own while the cancel was on its way: the real outcome wins.
    }
    const start = job.status?.startTime
      ? Date.parse(job.status.startTime as any)
      : undefined;
    const end =
      job.status?.completionTime ?? (failed?.lastTransitionTime as any);
    const computeSeconds =
      start && end
        ? Math.max(0, (Date.parse(end as any) - start) / 1000)
        : undefined;
    if (complete) {
      this.finishWithLogs(run, { exitCode: 0, computeSeconds });
      return;
    }
    const reason = failed!.reason ?? '';
    const message = failed!.message ?? '';
    if (reason === 'DeadlineExceeded') {
      this.finishWithLogs(run, {
        timedOut: true,
        computeSeconds,
        message: `The Job exceeded its deadline of ${job.spec?.activeDeadlineSeconds}s`,
      });
    } else if (reason === 'PodFailurePolicy') {
      const code = /exit code (\d+)/.exec(message);
      this.finishWithLogs(run, {
        exitCode: code ? Number(code[1]) : this.podExitCode(run),
        computeSeconds,
      });
    } else {
      this.finishWithLogs(run, {
        infraReason:
          reason === 'BackoffLimitExceeded'
            ? 'backoff-limit-exceeded'
            : 'job-failed',
        computeSeconds,
        message: `The Job failed (${
          reason || 'unknown reason'
        }): ${message}`.slice(0, 500),
      });
    }
  }

  private podOf(run: InFlight): V1Pod | undefined {
    const pods = run.cluster.pods
      .list(run.cluster.target.namespace)
      .filter(p => p.metadata?.labels?.['job-name'] === run.jobName);
    return pods.sort((a, b) =>
      String(b.metadata?.creationTimestamp ?? '').localeCompare(
        String(a.metadata?.creationTimestamp ?? ''),
      ),
    )[0];
  }

  private podExitCode(run: InFlight): number | undefined {
    const status = this.podOf(run)?.status?.containerStatuses?.find(
      c => c.name === AGENT_CONTAINER,
    );
    return status?.state?.terminated?.exitCode;
  }

  /** Streams the running pod's log live into the run's stored lines. */
  private followLogs(run: InFlight, podName: string) {
    const follow: NonNullable<InFlight['follow']> = { bytes: 0, pod: podName };
    run.follow = follow;
    const id = run.plan.executionId;
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        if (run.follow !== follow || run.finishing) {
          callback();
          return;
        }
        follow.bytes += chunk.length;
        this.listener!.output(id, 'stdout', [chunk.toString('utf8')]).then(
          () => callback(),
          () => callback(),
        );
      },
    });
    this.apiCalls.log += 1;
    new Log(run.cluster.target.kubeConfig)
      .log(run.cluster.target.namespace, podName, AGENT_CONTAINER, sink, {
        follow: true,
        limitBytes: this.options.maxLogReadBytes ?? 1024 * 1024,
      })
      .then(
        controller => {
          follow.controller = controller;
          if (run.finishing) controller.abort();
        },
        () => undefined, // the final read covers what the stream could not
      );
  }

  /** Reads the pod's log once (the runtime's events) and reports the end. */
  private finishWithLogs(run: InFlight, exit: ExecutorExit) {
    run.finishing = true;
    const id = run.plan.executionId;
    const pod = this.podOf(run);
    const streamed =
      run.follow && run.follow.pod === pod?.metadata?.name
        ? run.follow.bytes
        : 0;
    run.follow?.controller?.abort();
    const read = async () => {
      if (!pod?.metadata?.name) {
        return;
      }
      try {
        this.apiCalls.log += 1;
        const text = await run.cluster.core.readNamespacedPodLog({
          name: pod.metadata.name,
          namespace: run.cluster.target.namespace,
          container: AGENT_CONTAINER,
          limitBytes: this.options.maxLogReadBytes ?? 1024 * 1024,
        });
        // Logs are append-only: skip what the live stream already delivered.
        const rest = Buffer.from(text ?? '', 'utf8')
          .subarray(streamed)
          .toString('utf8');
        if (rest) {
          await this.listener!.output(id, 'stdout', [
            rest.endsWith('\n') ? rest : `${rest}\n`,
          ]);
        } else if (streamed) {
          await this.listener!.output(id, 'stdout', ['\n']);
        }
      } catch (error: any) {
        await this.listener!.output(id, 'stderr', [
          `[pod logs unavailable: ${String(error?.message ?? error).slice(
            0,
            200,
          )}]\n`,
        ]);
      }
    };
    read()
      .then(() => this.fail(run, exit))
      .catch(error =>
        this.options.logger.error('Finishing a Kubernetes run failed', {
          executionId: id,
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
