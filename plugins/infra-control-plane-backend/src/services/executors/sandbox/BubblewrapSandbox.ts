import { execFile, execFileSync } from 'node:child_process';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { CgroupManager, RunCgroup } from './cgroups';
import { ReadOnlyMounts, readOnlyMounts } from './mounts';
import { PreparedRun, RunPaths, RunSandbox, SandboxRunSpec } from './types';

/** Options of {@link BubblewrapSandbox}. */
export interface BubblewrapSandboxOptions {
  runtimePath: string;
  nodePath?: string;
  /** Size of the private scratch tmpfs (counted against the run's memory too). */
  scratchMiB: number;
  /** Processes and threads one run may have at once. */
  maxProcesses: number;
  /** First host uid of the per-run unprivileged identities (one per concurrent run). */
  uidBase: number;
  /** How many distinct per-run uids to hand out. */
  uidCount: number;
  /** cgroup v2 parent folder when the default is not writable. */
  cgroupRoot?: string;
}

/** Where the run's files appear inside the sandbox. */
export const SANDBOX_PATHS = {
  scratch: '/tmp',
  secretsDir: '/run/agent/secrets',
  inputFile: '/run/agent/input.json',
  egressSocket: '/run/agent/egress.sock',
  agent: '/agent',
  /** NODE_PATH: holds `@internal/agent-runtime` for `require` from agent code. */
  modules: '/opt/node_modules',
} as const;

/** Execution id of the start-up probe run. */
export const PROBE_ID = 'sandbox-probe';

/** uid and gid of the agent inside the sandbox (the image's user too). */
const INNER_ID = '10001';

/**
 * Runs each local run in its own bubblewrap sandbox: new user, PID, IPC, UTS,
 * cgroup, mount and network namespaces (loopback only, no route out); a
 * read-only view of only Node, its libraries, the runtime and the agent's
 * folder; a private tmpfs scratch as the only writable place; the run's
 * secrets and egress socket in a private mount; an unprivileged host uid of
 * its own; memory (swap included) and process limits in a cgroup of its own;
 * CPU time limited by RLIMIT_CPU. The sandbox dies with the portal
 * (`--die-with-parent`) and its PID namespace takes every process of the run
 * with it when the runtime exits.
 */
export class BubblewrapSandbox implements RunSandbox {
  readonly kind = 'bubblewrap' as const;
  private readonly uidsInUse = new Set<number>();
  private problem: string | null = 'local sandbox not checked yet';
  private mounts?: ReadOnlyMounts;
  private cgroups?: CgroupManager;
  private tools?: { bwrap: string; setpriv: string; prlimit: string };

  constructor(private readonly options: BubblewrapSandboxOptions) {}

  /**
   * Checks every part the sandbox needs, ending with a probe run of a tiny
   * agent through the real command; the reason is kept for health and for
   * every refused run.
   */
  async check(): Promise<string | null> {
    try {
      if (process.getuid?.() !== 0) {
        throw new Error(
          'the bubblewrap sandbox needs root to give each run its own uid and cgroup (run the portal as root, or set infraControlPlane.local.sandbox: none)',
        );
      }
      this.tools = {
        bwrap: which(
          'bwrap',
          'bubblewrap is not installed (apt-get install bubblewrap)',
        ),
        setpriv: which('setpriv', 'setpriv (util-linux) is not installed'),
        prlimit: which('prlimit', 'prlimit (util-linux) is not installed'),
      };
      this.mounts = readOnlyMounts(
        this.options.nodePath ?? process.execPath,
        this.options.runtimePath,
      );
      this.cgroups = CgroupManager.create({ root: this.options.cgroupRoot });
      this.problem = null;
      await this.probe();
    } catch (error) {
      this.problem = `local sandbox unavailable: ${(error as Error).message}`;
    }
    return this.problem;
  }

  private async probe() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-sandbox-probe-'));
    try {
      const codeDir = path.join(dir, 'agent');
      fs.mkdirSync(codeDir);
      fs.chmodSync(dir, 0o755);
      fs.writeFileSync(
        path.join(codeDir, 'index.js'),
        "module.exports = require('@internal/agent-runtime').defineAgent({ handler: async () => 'sandbox-ok' });\n",
        { mode: 0o644 },
      );
      const runDir = path.join(dir, 'run');
      fs.mkdirSync(runDir, { mode: 0o700 });
      const run = await this.prepare({
        executionId: `${PROBE_ID}-${process.pid}`,
        codeDir,
        runDir,
        env: { PATH: '/nonexistent', AGENT_INPUT: '{}' },
        memoryBytes: 256 * 1024 * 1024,
        heapMiB: 64,
        cpuSeconds: 10,
      });
      try {
        const out = await new Promise<string>((resolve, reject) => {
          execFile(
            run.command,
            run.args,
            { env: run.env, cwd: run.cwd, timeout: 30_000 },
            (error, stdout, stderr) =>
              stdout.includes('"result":"sandbox-ok"')
                ? resolve(stdout)
                : reject(
                    new Error(
                      `a probe run in the sandbox failed: ${(
                        stderr ||
                        stdout ||
                        String(error)
                      )
                        .trim()
                        .slice(-500)}`,
                    ),
                  ),
          );
        });
        void out;
      } finally {
        await run.dispose();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  unavailableReason(): string | null {
    return this.problem;
  }

  innerPaths(): RunPaths {
    return {
      scratch: SANDBOX_PATHS.scratch,
      secretsDir: SANDBOX_PATHS.secretsDir,
      inputFile: SANDBOX_PATHS.inputFile,
      egressSocket: SANDBOX_PATHS.egressSocket,
    };
  }

  hostPaths(runDir: string): RunPaths {
    return {
      scratch: path.join(runDir, 'scratch-unused'),
      secretsDir: path.join(runDir, 'secrets'),
      inputFile: path.join(runDir, 'input.json'),
      egressSocket: path.join(runDir, 'egress.sock'),
    };
  }

  async prepare(spec: SandboxRunSpec): Promise<PreparedRun> {
    const reason = this.unavailableReason();
    if (reason) throw new Error(reason);
    const { tools, mounts, cgroups } = this;
    if (!tools || !mounts || !cgroups)
      throw new Error('local sandbox not checked yet');

    const uid = this.allocateUid();
    let cgroup: RunCgroup | undefined;
    try {
      chownTree(spec.runDir, uid);
      cgroup = cgroups.createRun(spec.executionId, {
        memoryBytes: spec.memoryBytes,
        maxProcesses: this.options.maxProcesses,
      });
    } catch (error) {
      this.uidsInUse.delete(uid);
      throw error;
    }
    const host = this.hostPaths(spec.runDir);
    const bwrapArgs = [
      '--unshare-all',
      '--unshare-user',
      '--disable-userns',
      '--die-with-parent',
      '--new-session',
      '--uid',
      INNER_ID,
      '--gid',
      INNER_ID,
      '--hostname',
      'agent',
      // The scratch tmpfs first: read-only mounts that live below it on the
      // host (a checkout under /tmp) are then laid over it, not hidden by it.
      '--size',
      String(this.options.scratchMiB * 1024 * 1024),
      '--tmpfs',
      SANDBOX_PATHS.scratch,
      ...mounts.paths.flatMap(p => ['--ro-bind', p, p]),
      '--ro-bind',
      spec.codeDir,
      SANDBOX_PATHS.agent,
      '--symlink',
      mounts.runtimeDir,
      `${SANDBOX_PATHS.modules}/@internal/agent-runtime`,
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--dir',
      '/run/agent',
      ...optionalBind(host.secretsDir, SANDBOX_PATHS.secretsDir, '--ro-bind'),
      ...optionalBind(host.inputFile, SANDBOX_PATHS.inputFile, '--ro-bind'),
      ...optionalBind(host.egressSocket, SANDBOX_PATHS.egressSocket, '--bind'),
      // The sandbox's own root (where the mount points live) is read-only too.
      '--remount-ro',
      '/',
      '--chdir',
      SANDBOX_PATHS.scratch,
      '--',
      mounts.nodePath,
      `--max-old-space-size=${spec.heapMiB}`,
      path.join(mounts.runtimeDir, 'bin', 'agent-runtime.js'),
      'run',
      SANDBOX_PATHS.agent,
    ];
    const cpu = Math.max(1, Math.ceil(spec.cpuSeconds));
    // sh (as root) joins the run's cgroups, so that every process of the run
    // is counted from its first instruction; then the limits, the uid and
    // the sandbox, each exec'd in place.
    const args = [
      '-c',
      'for f in $AGENT_SANDBOX_CGROUPS; do echo $$ > "$f" || exit 125; done; unset AGENT_SANDBOX_CGROUPS; exec "$@"',
      'agent-sandbox',
      tools.prlimit,
      `--cpu=${cpu}:${cpu + 5}`,
      '--core=0',
      '--',
      tools.setpriv,
      `--reuid=${uid}`,
      `--regid=${uid}`,
      '--clear-groups',
      '--no-new-privs',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--',
      tools.bwrap,
      ...bwrapArgs,
    ];
    const env = {
      ...spec.env,
      NODE_PATH: SANDBOX_PATHS.modules,
      AGENT_SANDBOX_CGROUPS: cgroup.procsFiles.join(' '),
    };
    const run = cgroup;
    return {
      command: '/bin/sh',
      args,
      env,
      cwd: '/',
      signal: (signal: NodeJS.Signals) => {
        for (const pid of run.pids()) {
          // SIGTERM goes to the agent's processes: bubblewrap's own would die
          // at once and take the runtime with them before it reports.
          if (signal !== 'SIGKILL' && isBubblewrap(pid)) continue;
          try {
            process.kill(pid, signal);
          } catch {
            // gone already
          }
        }
      },
      report: () => run.report(),
      dispose: async () => {
        await run.remove();
        this.uidsInUse.delete(uid);
      },
    };
  }

  private allocateUid(): number {
    for (let i = 0; i < this.options.uidCount; i++) {
      const uid = this.options.uidBase + i;
      if (!this.uidsInUse.has(uid)) {
        this.uidsInUse.add(uid);
        return uid;
      }
    }
    throw new Error(`all ${this.options.uidCount} sandbox uids are in use`);
  }
}

function optionalBind(hostPath: string, inner: string, flag: string): string[] {
  return hostPath && fs.existsSync(hostPath) ? [flag, hostPath, inner] : [];
}

function chownTree(dir: string, uid: number) {
  if (!dir || !fs.existsSync(dir)) return;
  fs.lchownSync(dir, uid, uid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(full, uid);
    else fs.lchownSync(full, uid, uid);
  }
}

function which(name: string, missing: string): string {
  for (const dir of [
    '/usr/bin',
    '/bin',
    '/usr/sbin',
    '/sbin',
    '/usr/local/bin',
  ]) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  try {
    return (
      execFileSync('sh', ['-c', `command -v ${name}`], {
        encoding: 'utf8',
      }).trim() || fail(missing)
    );
  } catch {
    return fail(missing);
  }
}

function fail(message: string): never {
  throw new Error(message);
}

function isBubblewrap(pid: number): boolean {
  try {
    return path.basename(fs.readlinkSync(`/proc/${pid}/exe`)) === 'bwrap';
  } catch {
    return false;
  }
}
