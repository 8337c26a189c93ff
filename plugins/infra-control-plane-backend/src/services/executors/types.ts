import { ExecutionPlan } from '@internal/plugin-agents-common';
import { ExecutionRecord } from '../../database/ExecutionStore';

/**
 * How a run ended, as seen by an executor. The execution manager combines it
 * with the runtime's own events (result, error) to decide the final state.
 *
 * @public
 */
export interface ExecutorExit {
  /** Process / container exit code, when known. */
  exitCode?: number;
  /** The executor stopped the run because its deadline passed. */
  timedOut?: boolean;
  /** The run was stopped because it was cancelled. */
  cancelled?: boolean;
  /** Infra-level failure (not the agent's fault), e.g. `job-lost`. */
  infraReason?: string;
  /** Human readable detail, never a secret. */
  message?: string;
  /** Seconds the run was active. */
  computeSeconds?: number;
}

/**
 * What an executor tells the execution manager, as it happens.
 *
 * @public
 */
export interface ExecutorListener {
  /** The plan was handed to the infrastructure (process queued/spawned, Job created). */
  dispatched(
    executionId: string,
    fields?: { cluster?: string; jobName?: string },
  ): Promise<void>;
  /** The agent's process/pod is running. */
  running(executionId: string, at: string): Promise<void>;
  /** Raw output lines of the runtime (stdout JSON events or plain text). */
  output(
    executionId: string,
    stream: 'stdout' | 'stderr',
    lines: string[],
  ): Promise<void>;
  /** The run ended. */
  exited(executionId: string, exit: ExecutorExit): Promise<void>;
}

/** Readiness of an executor. @public */
export interface ExecutorHealth {
  ok: boolean;
  message: string;
  /** Runs waiting for capacity (local) and running now. */
  queued?: number;
  running?: number;
  capacity?: number;
}

/**
 * Runs execution plans somewhere. Implementations: `LocalProcessExecutor`
 * (child processes) and `KubernetesJobExecutor` (hardened Jobs).
 *
 * @public
 */
export interface AgentExecutor {
  readonly kind: 'local' | 'kubernetes';
  /** Starts watching and accepts the listener; called once at plugin start. */
  start(listener: ExecutorListener): Promise<void>;
  /** Runs a plan; idempotent per execution id. */
  run(plan: ExecutionPlan): Promise<void>;
  /** Stops a run; the listener hears `exited` with `cancelled`. */
  cancel(executionId: string): Promise<void>;
  /** Rebuilds in-flight state after a restart from the unfinished records. */
  reconcile(records: ExecutionRecord[]): Promise<void>;
  health(): Promise<ExecutorHealth>;
  /** Stops watching and, for local, the processes it started. */
  stop(): Promise<void>;
}
