import { LoggerService } from '@backstage/backend-plugin-api';
import { ConflictError, NotFoundError } from '@backstage/errors';
import { JsonValue } from '@backstage/types';
import {
  ExecutionPlan,
  isTerminalExecutionState,
} from '@internal/plugin-agents-common';
import {
  ExecutionOutcome,
  ExecutionRecord,
  ExecutionStore,
} from '../database/ExecutionStore';
import { UpdateDelivery } from './delivery/UpdateDelivery';
import {
  AgentExecutor,
  ExecutorExit,
  ExecutorListener,
} from './executors/types';
import { exitReasonOfCode, redact, RuntimeOutputParser } from './runtimeOutput';
import { SecretResolver } from './secrets';

/** Options of {@link ExecutionManager}. @public */
export interface ExecutionManagerOptions {
  store: ExecutionStore;
  executor: AgentExecutor;
  delivery: UpdateDelivery;
  secrets: SecretResolver;
  logger: LoggerService;
  maxLogBytes: number;
}

interface Tracked {
  parser: RuntimeOutputParser;
  secrets: string[];
  chain: Promise<void>;
  buffered: Array<{ ts: string; level: string; message: string }>;
  flushTimer?: NodeJS.Timeout;
}

/**
 * Receives plans, keeps the records, drives the executor and turns what it
 * observes into execution states, logs, results and updates for the product
 * control plane. Makes no policy decision: plans were validated upstream.
 *
 * @public
 */
export class ExecutionManager implements ExecutorListener {
  private readonly tracked = new Map<string, Tracked>();
  private readonly loading = new Map<string, Promise<Tracked>>();

  constructor(private readonly options: ExecutionManagerOptions) {}

  /** Starts the executor and rebuilds in-flight state from the records. */
  async start(): Promise<void> {
    await this.options.executor.start(this);
    const unfinished = await this.options.store.listUnfinished(
      this.options.executor.kind,
    );
    if (unfinished.length) {
      this.options.logger.info('Reconciling unfinished executions', {
        count: unfinished.length,
      });
    }
    await this.options.executor.reconcile(unfinished);
  }

  async stop(): Promise<void> {
    await this.options.executor.stop();
    await Promise.all([...this.tracked.values()].map(t => t.chain));
  }

  /**
   * Accepts a plan; idempotent by execution id + attempt. Returns the record
   * and whether this call created it.
   */
  async submit(
    plan: ExecutionPlan,
  ): Promise<{ record: ExecutionRecord; created: boolean }> {
    const created = await this.options.store.insert(
      plan,
      this.options.executor.kind,
    );
    const record = (await this.options.store.get(plan.executionId))!;
    if (!created) {
      if (
        record.attempt !== plan.attempt ||
        record.agentRef !== plan.agentRef
      ) {
        throw new ConflictError(
          `Execution ${plan.executionId} was already received with attempt ${record.attempt} of ${record.agentRef}`,
        );
      }
      return { record, created: false };
    }
    this.options.logger.info('Execution received', {
      executionId: plan.executionId,
      agentRef: plan.agentRef,
      executor: this.options.executor.kind,
    });
    await this.options.executor.run(plan);
    return {
      record: (await this.options.store.get(plan.executionId))!,
      created: true,
    };
  }

  async cancel(executionId: string): Promise<ExecutionRecord> {
    const record = await this.options.store.get(executionId);
    if (!record) {
      throw new NotFoundError(`No execution ${executionId}`);
    }
    if (isTerminalExecutionState(record.state)) {
      return record;
    }
    await this.options.store.requestCancel(executionId);
    this.options.logger.info('Execution cancel requested', { executionId });
    await this.options.executor.cancel(executionId);
    return (await this.options.store.get(executionId))!;
  }

  async get(executionId: string): Promise<ExecutionRecord> {
    const record = await this.options.store.get(executionId);
    if (!record) {
      throw new NotFoundError(`No execution ${executionId}`);
    }
    return record;
  }

  // --- ExecutorListener -----------------------------------------------------

  async dispatched(
    executionId: string,
    fields?: { cluster?: string; jobName?: string },
  ): Promise<void> {
    if (await this.options.store.markDispatched(executionId, fields)) {
      this.options.delivery.wake();
    }
  }

  async running(executionId: string, at: string): Promise<void> {
    await this.track(executionId);
    if (await this.options.store.markRunning(executionId, at)) {
      this.options.delivery.wake();
    }
  }

  async output(
    executionId: string,
    stream: 'stdout' | 'stderr',
    chunks: string[],
  ): Promise<void> {
    const t = await this.track(executionId);
    for (const chunk of chunks) {
      const lines = t.parser.feedChunk(stream, chunk);
      t.buffered.push(...t.parser.parse(stream, lines));
    }
    this.scheduleFlush(executionId, t);
  }

  private scheduleFlush(executionId: string, t: Tracked) {
    if (!t.flushTimer && t.buffered.length) {
      t.flushTimer = setTimeout(() => {
        t.flushTimer = undefined;
        this.enqueue(executionId, t, () => this.flushLogs(executionId, t));
      }, 250);
    }
  }

  /** Records an event the platform observed for a run (egress decisions), among its logs. */
  async recordPlatformEvent(
    executionId: string,
    event: Parameters<RuntimeOutputParser['platformEvent']>[0],
  ): Promise<void> {
    if (!this.tracked.has(executionId)) return; // not running here (any more)
    const t = await this.track(executionId);
    const line = t.parser.platformEvent(event);
    if (line) t.buffered.push(line);
    this.scheduleFlush(executionId, t);
  }

  async exited(executionId: string, exit: ExecutorExit): Promise<void> {
    const t = await this.track(executionId);
    if (t.flushTimer) {
      clearTimeout(t.flushTimer);
      t.flushTimer = undefined;
    }
    await this.enqueue(executionId, t, async () => {
      for (const stream of ['stdout', 'stderr'] as const) {
        t.buffered.push(...t.parser.parse(stream, t.parser.flush(stream)));
      }
      await this.flushLogs(executionId, t);
      const record = await this.options.store.get(executionId);
      if (!record || isTerminalExecutionState(record.state)) return;
      const outcome = this.outcome(record, t, exit);
      if (await this.options.store.finish(executionId, outcome)) {
        this.options.logger.info('Execution finished', {
          executionId,
          state: outcome.state,
          exitReason: outcome.exitReason,
        });
        this.options.delivery.wake();
      }
    });
    this.tracked.delete(executionId);
  }

  // --- internals --------------------------------------------------------------

  private outcome(
    record: ExecutionRecord,
    t: Tracked,
    exit: ExecutorExit,
  ): ExecutionOutcome {
    const at = new Date().toISOString();
    const computeSeconds =
      exit.computeSeconds ??
      (record.startedAt
        ? Math.max(0, (Date.now() - Date.parse(record.startedAt)) / 1000)
        : 0);
    const base = { at, computeSeconds, exitCode: exit.exitCode };
    const errorMessage = t.parser.error
      ? redact(t.parser.error.message, t.secrets)
      : undefined;
    if (exit.cancelled || (record.cancelRequested && exit.exitCode !== 0)) {
      return {
        ...base,
        state: 'cancelled',
        exitReason: 'cancelled-by-user',
        message: exit.message ?? 'Cancelled',
      };
    }
    if (
      exit.timedOut ||
      exit.exitCode === 124 ||
      t.parser.error?.code === 'timeout'
    ) {
      return {
        ...base,
        state: 'timed_out',
        exitReason: 'deadline-exceeded',
        message:
          errorMessage ??
          exit.message ??
          `The run exceeded its timeout of ${record.plan.resources.timeoutSeconds}s`,
      };
    }
    if (exit.infraReason) {
      return {
        ...base,
        state: 'failed',
        exitReason: exit.infraReason,
        message: exit.message,
      };
    }
    if (exit.exitCode === 0 && t.parser.result) {
      return {
        ...base,
        state: 'succeeded',
        exitReason: 'success',
        result: this.redactResult(t.parser.result.value, t.secrets),
      };
    }
    if (exit.exitCode === 0 && !t.parser.error) {
      // The runtime always ends a successful run with a result event; an exit
      // 0 without one (output lost, or not the platform's runtime) is not a
      // success the platform can vouch for, nor bill.
      return {
        ...base,
        state: 'failed',
        exitReason: 'no-result',
        message:
          exit.message ??
          'The agent exited with code 0 without reporting a result (no result event in its output)',
      };
    }
    const reason =
      t.parser.error?.code ??
      (exit.exitCode !== undefined
        ? exitReasonOfCode(exit.exitCode)
        : undefined) ??
      'agent-crashed';
    return {
      ...base,
      state: 'failed',
      exitReason: reason,
      message:
        errorMessage ??
        exit.message ??
        (exit.exitCode !== undefined
          ? `The agent process exited with code ${exit.exitCode}`
          : 'The agent process ended without a result'),
    };
  }

  private redactResult(value: JsonValue, secrets: string[]): JsonValue {
    const text = JSON.stringify(value);
    const clean = redact(text, secrets);
    return clean === text ? value : JSON.parse(clean);
  }

  /**
   * The run's tracking state. Calls made while it is being loaded share one
   * promise, so output and exit reports are handled in the order they were
   * made (a final chunk can never be parsed after the exit that needs it).
   */
  private track(executionId: string): Promise<Tracked> {
    const known = this.tracked.get(executionId);
    if (known) return Promise.resolve(known);
    let loading = this.loading.get(executionId);
    if (!loading) {
      loading = this.load(executionId).finally(() =>
        this.loading.delete(executionId),
      );
      this.loading.set(executionId, loading);
    }
    return loading;
  }

  private async load(executionId: string): Promise<Tracked> {
    let t = this.tracked.get(executionId);
    if (!t) {
      const record = await this.options.store.get(executionId);
      const secrets = this.options.secrets.platformValues();
      if (record) {
        const values = await this.options.secrets.resolve(record.plan.secrets, {
          executionId,
          requestedBy: record.plan.requestedBy,
        });
        secrets.push(...values.values());
      }
      t = this.tracked.get(executionId);
      if (!t) {
        t = {
          parser: new RuntimeOutputParser(secrets),
          secrets,
          chain: Promise.resolve(),
          buffered: [],
        };
        this.tracked.set(executionId, t);
      }
    }
    return t;
  }

  /** Adds a secret value (e.g. a per-run token) to redact from a run's output. */
  async addSecretValue(executionId: string, value: string) {
    const t = await this.track(executionId);
    t.secrets.push(value);
  }

  private enqueue(
    executionId: string,
    t: Tracked,
    work: () => Promise<void>,
  ): Promise<void> {
    const next = t.chain.then(work).catch(error =>
      this.options.logger.error('Recording execution output failed', {
        executionId,
        error: String(error),
      }),
    );
    t.chain = next;
    return next;
  }

  private async flushLogs(executionId: string, t: Tracked) {
    const lines = t.buffered.splice(0, t.buffered.length);
    await this.options.store.appendLogs(
      executionId,
      lines,
      this.options.maxLogBytes,
    );
  }
}
