import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LoggerService } from '@backstage/backend-plugin-api';
import { ExecutionPlan } from '@internal/plugin-agents-common';
import { ExecutionRecord } from '../../database/ExecutionStore';
import { SecretResolver } from '../secrets';
import { PreparedRun, RunSandbox } from './sandbox/types';
import { cpuToCores, memoryToMiB, signalName } from './localRunSupport';
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
  /** Where runs live: the bubblewrap sandbox, or none when configured so. */
  sandbox: RunSandbox;
  /** Opens the run's egress (a proxy on a Unix socket) when it is granted a tool that needs the network. */
  egress?: RunEgress;
}

/** A run's way out: the egress proxy listening on a socket that only this run sees. */
export interface RunEgress {
  open(
    plan: ExecutionPlan,
    socketPath: string,
  ): Promise<
    | {
        env: (innerSocketPath: string) => Record<string, string>;
        close(): Promise<void>;
      }
    | undefined
  >;
}

interface Run {
  plan: ExecutionPlan;
  child?: ChildProcess;
  prepared?: PreparedRun;
  startedAt?: number;
  cancelled?: boolean;
  timedOut?: boolean;
  /** V8 reported that the heap ceiling was reached. */
  heapExhausted?: boolean;
  timers: NodeJS.Timeout[];
  dirs: string[];
  cleanups: Array<() => Promise<void>>;
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
    const problem = await this.options.sandbox.check();
    if (problem) {
      this.options.logger.error(`Local executor refuses every run: ${problem}`);
    }
  }

  async run(plan: ExecutionPlan): Promise<void> {
    if (this.runs.has(plan.executionId)) return;
    const problem = this.options.sandbox.unavailableReason();
    if (problem) {
      await this.listener!.exited(plan.executionId, {
        infraReason: 'sandbox-unavailable',
        message: `The local executor cannot run agents: ${problem}`,
      });
      return;
    }
    this.runs.set(plan.executionId, {
      plan,
      timers: [],
      dirs: [],
      cleanups: [],
    });
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
    const problem = fs.existsSync(this.options.runtimePath)
      ? this.options.sandbox.unavailableReason()
      : `agent runtime not found at ${this.options.runtimePath}`;
    const sandbox =
      this.options.sandbox.kind === 'none'
        ? 'NOT sandboxed (infraControlPlane.local.sandbox: none)'
        : `${this.options.sandbox.kind} sandbox`;
    return {
      ok: !problem,
      message:
        problem ??
        `local executor (${sandbox}): ${this.active} running, ${this.queue.length} queued, capacity ${this.options.maxConcurrency}`,
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
        this.kill(run, 'SIGKILL');
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
    const { sandbox } = this.options;
    if (!plan.codeDir) {
      throw new Error(
        'the plan has no codeDir, which the local executor needs',
      );
    }
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-run-'));
    fs.chmodSync(runDir, 0o700);
    run.dirs.push(runDir);
    const host = sandbox.hostPaths(runDir);
    const inner = sandbox.innerPaths(runDir);
    fs.mkdirSync(host.secretsDir, { mode: 0o700 });
    if (sandbox.kind === 'none') fs.mkdirSync(host.scratch, { mode: 0o700 });

    const secretValues = await this.options.secrets.resolve(plan.secrets, {
      executionId: plan.executionId,
      requestedBy: plan.requestedBy,
    });
    for (const [name, value] of secretValues) {
      if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('.')) continue;
      fs.writeFileSync(path.join(host.secretsDir, name), value, {
        mode: 0o400,
      });
    }
    const egress = await this.options.egress?.open(plan, host.egressSocket);
    if (egress) run.cleanups.push(() => egress.close());

    const inputJson = JSON.stringify(plan.input ?? {});
    const env: Record<string, string> = {
      PATH:
        sandbox.kind === 'none'
          ? process.env.PATH ?? '/usr/bin:/bin'
          : '/usr/bin:/bin',
      HOME: inner.scratch,
      TMPDIR: inner.scratch,
      NODE_ENV: 'production',
      ...this.options.baseEnv,
      ...egress?.env(inner.egressSocket),
      AGENT_EXECUTION_ID: plan.executionId,
      AGENT_REF: plan.agentRef,
      AGENT_VERSION: plan.agentVersion,
      AGENT_ENTRYPOINT: plan.entrypoint,
      AGENT_TOOLS: JSON.stringify(plan.tools ?? []),
      AGENT_TIMEOUT_SECONDS: String(plan.resources.timeoutSeconds),
      AGENT_SECRETS_DIR: inner.secretsDir,
    };
    if (Buffer.byteLength(inputJson) > 64 * 1024) {
      fs.writeFileSync(host.inputFile, inputJson, { mode: 0o400 });
      env.AGENT_INPUT_FILE = inner.inputFile;
    } else {
      env.AGENT_INPUT = inputJson;
    }
    if (plan.outputSchema) {
      env.AGENT_OUTPUT_SCHEMA = JSON.stringify(plan.outputSchema);
    }

    const memoryMiB = memoryToMiB(plan.resources.memory);
    const prepared = await sandbox.prepare({
      executionId: plan.executionId,
      codeDir: plan.codeDir,
      runDir,
      env,
      memoryBytes: memoryMiB * 1024 * 1024,
      heapMiB: Math.max(32, memoryMiB),
      // A backstop behind the wall-clock deadline: the CPU time of the whole
      // window (deadline + kill grace) at the envelope's cores, at least one.
      cpuSeconds:
        Math.ceil(
          Math.max(1, cpuToCores(plan.resources.cpu)) *
            (plan.resources.timeoutSeconds +
              this.options.timeoutGraceSeconds +
              this.options.killGraceSeconds),
        ) + 1,
    });
    run.prepared = prepared;
    run.cleanups.push(() => prepared.dispose());
    const child = spawn(prepared.command, prepared.args, {
      cwd: prepared.cwd,
      env: prepared.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    run.child = child;
    run.startedAt = Date.now();
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) =>
      this.listener!.output(plan.executionId, 'stdout', [chunk]),
    );
    child.stderr!.on('data', (chunk: string) => {
      if (chunk.includes('JavaScript heap out of memory'))
        run.heapExhausted = true;
      this.listener!.output(plan.executionId, 'stderr', [chunk]);
    });
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
        ...this.kernelVerdict(run, code, signal),
        exitCode: code ?? undefined,
        cancelled: run.cancelled,
        timedOut: run.timedOut,
        computeSeconds: Math.round(seconds * 1000) / 1000,
      });
    });
    await this.listener!.running(plan.executionId, new Date().toISOString());
  }

  /** What the kernel or V8 stopped, in words the run record keeps. */
  private kernelVerdict(
    run: Run,
    code: number | null,
    exitSignal: NodeJS.Signals | null,
  ): Pick<ExecutorExit, 'infraReason' | 'message'> {
    if (run.cancelled || run.timedOut) return {};
    const report = run.prepared?.report();
    if (report?.oomKilled || run.heapExhausted) {
      return {
        infraReason: 'out-of-memory',
        message: `The run was killed because it used more than its memory limit of ${run.plan.resources.memory}`,
      };
    }
    // bubblewrap exits with 128 + the signal that killed the runtime.
    const signal =
      exitSignal ??
      (code !== null && code > 128 ? signalName(code - 128) : undefined);
    if (signal === 'SIGXCPU') {
      return {
        infraReason: 'cpu-time-exceeded',
        message: 'The run was killed because it used up its CPU time',
      };
    }
    if (signal) {
      return {
        message: `The agent process was killed by ${signal}${
          report?.pidsLimitHit ? ' (it had reached its process limit)' : ''
        }`,
      };
    }
    return {};
  }

  private terminate(run: Run) {
    const child = run.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.kill(run, 'SIGTERM');
    run.timers.push(
      setTimeout(
        () => this.kill(run, 'SIGKILL'),
        this.options.killGraceSeconds * 1000,
      ),
    );
  }

  private kill(run: Run, signal: NodeJS.Signals) {
    run.prepared?.signal(signal, run.child?.pid);
  }

  private finish(run: Run, exit: ExecutorExit) {
    const id = run.plan.executionId;
    if (this.runs.get(id) !== run) return;
    this.runs.delete(id);
    for (const t of run.timers) clearTimeout(t);
    const cleanups = run.cleanups.splice(0).reverse();
    this.active -= 1;
    (async () => {
      for (const cleanup of cleanups) {
        await cleanup().catch(error =>
          this.options.logger.warn('Cleaning up a local run failed', {
            executionId: id,
            error: String(error),
          }),
        );
      }
      for (const dir of run.dirs) {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      await this.listener!.exited(id, exit);
    })().catch(error =>
      this.options.logger.error('Recording the end of a local run failed', {
        executionId: id,
        error: String(error),
      }),
    );
    this.pump();
  }
}
