import { LoggerService } from '@backstage/backend-plugin-api';
import { KubernetesClusterTarget } from '@internal/plugin-infra-control-plane-node';
import {
  BatchV1Api,
  CoreV1Api,
  Informer,
  V1Job,
  V1Pod,
  VersionApi,
  makeInformer,
} from '@kubernetes/client-node';
import { LABELS, MANAGED_BY } from '../jobSpec';
import { sleep } from './apiErrors';
import { Cluster, KubernetesApiCallCounts } from './types';

const SELECTOR = `${LABELS.managedBy}=${MANAGED_BY}`;

/** What the watch reports to the executor. */
export interface ClusterWatchEvents {
  onJob(job: V1Job, deleted: boolean): void;
  onPod(pod: V1Pod): void;
  /** The cluster's informers were (re-)listed: re-check its runs. */
  onSynced(cluster: Cluster): void;
}

/**
 * The clients and the two shared, label-selected informers (Jobs and Pods
 * of the platform) of every configured cluster + namespace. Watches that
 * fail are restarted (re-listed), so nothing is missed while an apiserver is
 * away.
 */
export class ClusterWatch {
  readonly clusters: Cluster[];
  private stopped = false;

  constructor(
    targets: KubernetesClusterTarget[],
    private readonly deps: {
      logger: LoggerService;
      apiCalls: KubernetesApiCallCounts;
      maxRetryDelayMs?: number;
      events: ClusterWatchEvents;
    },
  ) {
    this.clusters = targets.map(target => this.connect(target));
  }

  async start(): Promise<void> {
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

  /** Whether each cluster's apiserver answers (3 s), in words. */
  async health(): Promise<{ ok: boolean; message: string }> {
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
    };
  }

  private connect(target: KubernetesClusterTarget): Cluster {
    const { apiCalls, events } = this.deps;
    const kc = target.kubeConfig;
    const batch = kc.makeApiClient(BatchV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const ns = target.namespace;
    const jobs = makeInformer<V1Job>(
      kc,
      `/apis/batch/v1/namespaces/${ns}/jobs`,
      () => {
        apiCalls.informerList += 1;
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
        apiCalls.informerList += 1;
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
    jobs.on('add', job => events.onJob(job, false));
    jobs.on('update', job => events.onJob(job, false));
    jobs.on('delete', job => events.onJob(job, true));
    pods.on('add', pod => events.onPod(pod));
    pods.on('update', pod => events.onPod(pod));
    for (const informer of [jobs, pods]) {
      informer.on('connect', () => {
        apiCalls.informerWatch += 1;
      });
      informer.on('error', (error: any) => {
        cluster.errors += 1;
        cluster.ok.delete(informer);
        cluster.lastError = String(error?.message ?? error);
        if (this.stopped) return;
        this.deps.logger.warn('Kubernetes watch failed, restarting', {
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
    }, Math.min(this.deps.maxRetryDelayMs ?? 5000, 1000));
  }

  private markSynced(cluster: Cluster) {
    cluster.lastError = undefined;
    if (!cluster.synced) {
      cluster.synced = true;
      for (const fn of cluster.afterSync.splice(0)) fn();
    }
    this.deps.events.onSynced(cluster);
  }
}
