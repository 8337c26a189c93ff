import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LoggerService } from '@backstage/backend-plugin-api';
import { ExecutionPlan } from '@internal/plugin-agents-common';
import { ExecutionRecord } from '../../database/ExecutionStore';
import { SecretResolver } from '../secrets';
import {
  AgentExecutor,
  ExecutorExit,
  ExecutorHealth,
  ExecutorListener,
} from './types';

/** Options of {@link LocalProcessExecutor}. @public */
export interface LocalProcessExecutorOptions {
  logger: LoggerService;
  secrets: SecretResolver;
  /** Absolute path of bin/agent-runtime.js. */
  runtimePath: string;
  maxConcurrency: number;
  killGraceSeconds: number;
  timeoutGraceSeconds: number;
  /** Extra AGENT_* env for every run (LLM endpoint, result limits...). */
  baseEnv: Record<string, string>;
  /** Per-run env that depends on the plan (catalog token...), returns name -> value and the secret values among them. */
  runEnv?: (
    plan: ExecutionPlan,
  ) => Promise<{ env: Record<string, string>; secretValues: string[] }>;
}

interface Run {
  plan: ExecutionPlan;
  child?: ChildProcess;
  startedAt?: number;
  cancelled?: boolean;
  timedOut?: boolean;
  timers: NodeJS.Timeout[];
  dirs: string[];
}

/** Parses a Kubernetes quantity of memory (`128Mi`, `1G`, `512M`) into MiB. */
export function memoryToMiB(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]i?|[kmgt])?$/.exec(quantity.trim());
  if (!match) return 512;
  const n = Number(match[1]);
  const unit = match[2] ?? '';
  const factors: Record<string, number> = {
    '': 1 / (1024 * 1024),
    K: 1000 / 1024 / 1024,
    k: 1000 / 1024 / 1024,
    Ki: 1 / 1024,
    M: 1000 * 1000 / 1024 / 1024,
    m: 1000 * 1000 / 1024 / 1024,
    Mi: 1,
    G: 1e9 / 1024 / 1024,
    Gi: 1024,
    T: 1e12 / 1024 / 1024,
    Ti: 1024 * 1024,
  };
  return Math.max(1, Math.floor(n * (factors[unit] ?? 1)));
}

/** Finds packages/agent-runtime/bin/agent-runtime.js above a folder. */
export function findRuntimePath(from: string[]): string | undefined {
  for (const start of from) {
    let dir = path.resolve(start);
    for (;;) {
      const candidate = path.join(
        dir,
        'packages',
        'agent-runtime',
        'bin',
        'agent-runtime.js',
      );
      if (fs.existsSync(candidate)) return candidate;
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return undefined;
}

/**
 * Runs each plan as a child process of the agent runtime, with the same env
 * contract as a Kubernetes pod: a private scratch working directory, granted
 * secrets only (as files in a private folder), a V8 heap ceiling from the
 * memory envelope, a deadline (SIGTERM, then SIGKILL after a grace period) and
 * a machine-wide concurrency cap with a FIFO queue beyond it.
 *
 * @public
 */
export class LocalProcessExecutor implements AgentExecutor {
  readonly kind = 'local' as const;
  private listener?: ExecutorListener;
  private readonly runs = new Map<string, Run>();
  private readonly queue: string[] = [];
  private active = 0;
  private stopping = false;

  constructor(private readonly options: LocalProcessExecutorOptions) {}

  async start(listener: ExecutorListener): Promise<void> {
    this.listener = listener;
  }

  async run(plan: ExecutionPlan): Promise<void> {
    if (this.runs.has(plan.executionId)) return;
    this.runs.set(plan.executionId, { plan, timers: [], dirs: [] });
    this.queue.push(plan.executionId);
    await this.listener!.dispatched(plan.executionId);
    this.pump();
  }

  async cancel(executionId: string): Promise<void> {
    const run = this.runs.get(executionId);
    if (!run) return;
    run.cancelled = true;
    const queued = this.queue.indexOf(executionId);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.runs.delete(executionId);
      await this.listener!.exited(executionId, {
        cancelled: true,
        message: 'Cancelled before it started',
      });
      return;
    }
    this.terminate(run);
  }

  /**
   * A restarted portal cannot reattach to processes of the previous one:
   * runs that were never started are started now; runs that had started are
   * reported failed (`executor-restarted`) rather than run a second time.
   */
  async reconcile(records: ExecutionRecord[]): Promise<void> {
    for (const record of records) {
      if (this.runs.has(record.executionId)) continue;
      if (record.cancelRequested) {
        await this.listener!.exited(record.executionId, {
          cancelled: true,
          message: 'Cancelled while the portal was restarting',
        });
      } else if (record.state === 'running') {
        await this.listener!.exited(record.executionId, {
          infraReason: 'executor-restarted',
          message:
            'The portal restarted while this run was in progress; local runs cannot be resumed',
        });
      } else {
        await this.run(record.plan);
      }
    }
  }

  async health(): Promise<ExecutorHealth> {
    const ok = fs.existsSync(this.options.runtimePath);
    return {
      ok,
      message: ok
        ? `local executor: ${this.active} running, ${this.queue.length} queued, capacity ${this.options.maxConcurrency}`
        : `agent runtime not found at ${this.options.runtimePath}`,
      queued: this.queue.length,
      running: this.active,
      capacity: this.options.maxConcurrency,
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.queue.length = 0;
    const waits: Promise<void>[] = [];
    for (const run of this.runs.values()) {
      if (run.child && run.child.exitCode === null) {
        const child = run.child;
        waits.push(
          new Promise(resolve => {
            child.once('close', () => resolve());
            setTimeout(resolve, 3000).unref();
          }),
        );
        this.kill(child, 'SIGKILL');
      }
    }
    await Promise.all(waits);
  }

  private pump() {
    while (
      !this.stopping &&
      this.active < this.options.maxConcurrency &&
      this.queue.length > 0
    ) {
      const id = this.queue.shift()!;
      const run = this.runs.get(id);
      if (!run) continue;
      this.active += 1;
      this.spawn(run).catch(error => {
        this.options.logger.error('Local run could not start', {
          executionId: id,
          error: String(error),
        });
        this.finish(run, {
          infraReason: 'spawn-failed',
          message: `The agent runtime could not be started: ${error.message}`,
        });
      });
    }
  }

  private async spawn(run: Run) {
    const { plan } = run;
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-run-'));
    fs.chmodSync(base, 0o700);
    run.dirs.push(base);
    const scratch = path.join(base, 'work');
    const secretsDir = path.join(base, 'secrets');
    fs.mkdirSync(scratch, { mode: 0o700 });
    fs.mkdirSync(secretsDir, { mode: 0o700 });

    const secretValues = await this.options.secrets.resolve(plan.secrets, {
      executionId: plan.executionId,
      requestedBy: plan.requestedBy,
    });
    for (const [name, value] of secretValues) {
      if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('.')) continue;
      fs.writeFileSync(path.join(secretsDir, name), value, { mode: 0o600 });
    }
    const extra = this.options.runEnv
      ? await this.options.runEnv(plan)
      : { env: {}, secretValues: [] };

    const inputJson = JSON.stringify(plan.input ?? {});
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: scratch,
      TMPDIR: scratch,
      NODE_ENV: 'production',
      ...this.options.baseEnv,
      ...extra.env,
      AGENT_EXECUTION_ID: plan.executionId,
      AGENT_REF: plan.agentRef,
      AGENT_VERSION: plan.agentVersion,
      AGENT_ENTRYPOINT: plan.entrypoint,
      AGENT_TOOLS: JSON.stringify(plan.tools ?? []),
      AGENT_TIMEOUT_SECONDS: String(plan.resources.timeoutSeconds),
      AGENT_SECRETS_DIR: secretsDir,
    };
    if (Buffer.byteLength(inputJson) > 64 * 1024) {
      const inputFile = path.join(base, 'input.json');
      fs.writeFileSync(inputFile, inputJson, { mode: 0o600 });
      env.AGENT_INPUT_FILE = inputFile;
    } else {
      env.AGENT_INPUT = inputJson;
    }
    if (plan.outputSchema) {
      env.AGENT_OUTPUT_SCHEMA = JSON.stringify(plan.outputSchema);
    }
    if (!plan.codeDir) {
      throw new Error('the plan has no codeDir, which the local executor needs');
    }

    const heapMiB = Math.max(32, memoryToMiB(plan.resources.memory));
    const child = spawn(
      process.execPath,
      [
        `--max-old-space-size=${heapMiB}`,
        this.options.runtimePath,
        'run',
        plan.codeDir,
      ],
      {
        cwd: scratch,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    run.child = child;
    run.startedAt = Date.now();
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) =>
      this.listener!.output(plan.executionId, 'stdout', [chunk]),
    );
    child.stderr!.on('data', (chunk: string) =>
      this.listener!.output(plan.executionId, 'stderr', [chunk]),
    );
    const deadlineMs =
      (plan.resources.timeoutSeconds + this.options.timeoutGraceSeconds) * 1000;
    run.timers.push(
      setTimeout(() => {
        run.timedOut = true;
        this.terminate(run);
      }, deadlineMs),
    );
    child.once('error', error => {
      this.finish(run, {
        infraReason: 'spawn-failed',
        message: `The agent runtime could not be started: ${error.message}`,
      });
    });
    child.once('close', (code, signal) => {
      const seconds = (Date.now() - (run.startedAt ?? Date.now())) / 1000;
      this.finish(run, {
        exitCode: code ?? undefined,
        cancelled: run.cancelled,
        timedOut: run.timedOut,
        computeSeconds: Math.round(seconds * 1000) / 1000,
        message:
          code === null && signal && !run.cancelled && !run.timedOut
            ? `The agent process was killed by ${signal}`
            : undefined,
      });
    });
    await this.listener!.running(plan.executionId, new Date().toISOString());
  }

  private terminate(run: Run) {
    const child = run.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.kill(child, 'SIGTERM');
    run.timers.push(
      setTimeout(
        () => this.kill(child, 'SIGKILL'),
        this.options.killGraceSeconds * 1000,
      ),
    );
  }

  private kill(child: ChildProcess, signal: NodeJS.Signals) {
    try {
      // The whole process group: the runtime and anything the agent spawned.
      process.kill(-child.pid!, signal);
    } catch {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
  }

  private finish(run: Run, exit: ExecutorExit) {
    const id = run.plan.executionId;
    if (this.runs.get(id) !== run) return;
    this.runs.delete(id);
    for (const t of run.timers) clearTimeout(t);
    for (const dir of run.dirs) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    this.active -= 1;
    this.listener!.exited(id, exit).catch(error =>
      this.options.logger.error('Recording the end of a local run failed', {
        executionId: id,
        error: String(error),
      }),
    );
    this.pump();
  }
}
