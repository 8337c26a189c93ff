import { LoggerService } from '@backstage/backend-plugin-api';
import { ExecutionPlan } from '@internal/plugin-agents-common';
import { KubernetesClusterTarget } from '@internal/plugin-infra-control-plane-node';
import {
  BatchV1Api,
  CoreV1Api,
  Informer,
  ObjectCache,
  V1Job,
  V1Pod,
  VersionApi,
} from '@kubernetes/client-node';

/** One cluster + namespace: its clients and its two shared informers. */
export interface Cluster {
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

/** A run the executor drives. */
export interface InFlight {
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

/** Options of the Kubernetes Job executor. @public */
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
