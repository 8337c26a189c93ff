import path from 'node:path';
import { PreparedRun, RunPaths, RunSandbox, SandboxRunSpec } from './types';

/**
 * `infraControlPlane.local.sandbox: none`: the runtime as a plain child
 * process of the portal, with the portal's uid, filesystem and network, and
 * only V8's heap ceiling as a limit. For trusted agents on a developer's
 * machine only; the executor logs a warning at start-up.
 */
export class NoSandbox implements RunSandbox {
  readonly kind = 'none' as const;

  constructor(
    private readonly options: { runtimePath: string; nodePath?: string },
  ) {}

  async check(): Promise<string | null> {
    return null;
  }

  unavailableReason(): string | null {
    return null;
  }

  hostPaths(runDir: string): RunPaths {
    return {
      scratch: path.join(runDir, 'work'),
      secretsDir: path.join(runDir, 'secrets'),
      inputFile: path.join(runDir, 'input.json'),
      egressSocket: path.join(runDir, 'egress.sock'),
    };
  }

  innerPaths(runDir: string): RunPaths {
    return this.hostPaths(runDir);
  }

  async prepare(spec: SandboxRunSpec): Promise<PreparedRun> {
    const paths = this.hostPaths(spec.runDir);
    return {
      command: this.options.nodePath ?? process.execPath,
      args: [
        `--max-old-space-size=${spec.heapMiB}`,
        this.options.runtimePath,
        'run',
        spec.codeDir,
      ],
      env: spec.env,
      cwd: paths.scratch,
      signal: (signal, rootPid) => {
        if (rootPid === undefined) return;
        try {
          // The whole process group: the runtime and anything the agent spawned.
          process.kill(-rootPid, signal);
        } catch {
          // already gone
        }
      },
      report: () => ({ oomKilled: false, pidsLimitHit: false }),
      dispose: async () => {},
    };
  }
}
