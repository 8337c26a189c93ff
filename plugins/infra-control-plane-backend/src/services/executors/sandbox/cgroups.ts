import fs from 'node:fs';
import path from 'node:path';

/** Limits the kernel enforces on one run's whole process tree. */
export interface CgroupLimits {
  memoryBytes: number;
  maxProcesses: number;
}

/** What the kernel counted for a run once it ended. */
export interface CgroupReport {
  /** The memory controller killed a process of the run. */
  oomKilled: boolean;
  /** A fork/clone was refused because the run reached its process limit. */
  pidsLimitHit: boolean;
  /** Highest memory use seen, when the kernel reports it. */
  peakMemoryBytes?: number;
}

/** One run's cgroup (v1: a folder per controller; v2: one folder). */
export interface RunCgroup {
  /** cgroup.procs files a process must be written to before it execs the sandbox. */
  readonly procsFiles: string[];
  /** Host pids of every process of the run. */
  pids(): number[];
  report(): CgroupReport;
  /** Kills what is left and removes the folders. */
  remove(): Promise<void>;
}

class RunCgroupDirs implements RunCgroup {
  readonly procsFiles: string[];

  constructor(
    private readonly version: 1 | 2,
    private readonly memory: string,
    private readonly pidsDir: string,
  ) {
    this.procsFiles = [...new Set([memory, pidsDir])].map(d =>
      path.join(d, 'cgroup.procs'),
    );
  }

  pids(): number[] {
    const all = new Set<number>();
    for (const file of this.procsFiles) {
      for (const line of read(file).split('\n')) {
        const pid = Number(line);
        if (pid > 0) all.add(pid);
      }
    }
    return [...all];
  }

  report(): CgroupReport {
    if (this.version === 1) {
      const oom = keyed(read(path.join(this.memory, 'memory.oom_control')));
      const events = keyed(read(path.join(this.pidsDir, 'pids.events')));
      const peak = Number(
        read(path.join(this.memory, 'memory.max_usage_in_bytes')),
      );
      return {
        oomKilled: (oom.get('oom_kill') ?? 0) > 0,
        pidsLimitHit: (events.get('max') ?? 0) > 0,
        ...(peak > 0 ? { peakMemoryBytes: peak } : {}),
      };
    }
    const memoryEvents = keyed(read(path.join(this.memory, 'memory.events')));
    const pidsEvents = keyed(read(path.join(this.memory, 'pids.events')));
    const peak = Number(read(path.join(this.memory, 'memory.peak')));
    return {
      oomKilled: (memoryEvents.get('oom_kill') ?? 0) > 0,
      pidsLimitHit: (pidsEvents.get('max') ?? 0) > 0,
      ...(peak > 0 ? { peakMemoryBytes: peak } : {}),
    };
  }

  async remove(): Promise<void> {
    // The run's last processes are reaped a moment after its exit is seen.
    for (let attempt = 0; attempt < 500; attempt++) {
      const left = this.pids();
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      let removed = true;
      for (const dir of new Set([this.memory, this.pidsDir])) {
        try {
          if (fs.existsSync(dir)) fs.rmdirSync(dir);
        } catch {
          removed = false;
        }
      }
      if (removed) return;
      await new Promise(resolve => setTimeout(resolve, 2));
    }
  }
}

/**
 * Creates one cgroup per run with memory (swap included) and process-count
 * limits, under the cgroup of this process: on cgroup v1 in the `memory` and
 * `pids` hierarchies, on v2 in the unified one (whose parent must delegate
 * the `memory` and `pids` controllers, as the root cgroup and a systemd
 * delegated scope do).
 */
export class CgroupManager {
  private constructor(
    readonly version: 1 | 2,
    private readonly parents: { memory: string; pids: string },
  ) {}

  /**
   * Finds the writable cgroup folders for runs, or says why there are none.
   * `root` overrides the parent folder (v2) for machines where only a
   * delegated subtree is writable.
   */
  static create(options: { root?: string; name?: string } = {}): CgroupManager {
    const name = options.name ?? 'agent-platform-runs';
    const own = ownCgroups();
    const v1Memory = '/sys/fs/cgroup/memory';
    const v1Pids = '/sys/fs/cgroup/pids';
    if (
      fs.existsSync(path.join(v1Memory, 'cgroup.procs')) &&
      fs.existsSync(path.join(v1Pids, 'cgroup.procs'))
    ) {
      const memory = path.join(v1Memory, own.get('memory') ?? '/', name);
      const pids = path.join(v1Pids, own.get('pids') ?? '/', name);
      for (const dir of [memory, pids]) fs.mkdirSync(dir, { recursive: true });
      return new CgroupManager(1, { memory, pids });
    }
    if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      const parent = options.root ?? path.join('/sys/fs/cgroup', name);
      fs.mkdirSync(parent, { recursive: true });
      const wanted = ['memory', 'pids'];
      const available = read(path.join(parent, 'cgroup.controllers')).split(
        /\s+/,
      );
      const missing = wanted.filter(c => !available.includes(c));
      if (missing.length) {
        throw new Error(
          `cgroup v2 folder ${parent} does not offer the ${missing.join(
            ' and ',
          )} controller(s)`,
        );
      }
      fs.writeFileSync(
        path.join(parent, 'cgroup.subtree_control'),
        wanted.map(c => `+${c}`).join(' '),
      );
      return new CgroupManager(2, { memory: parent, pids: parent });
    }
    throw new Error(
      'no cgroup v1 memory+pids hierarchies and no cgroup v2 mount under /sys/fs/cgroup',
    );
  }

  /** Creates the cgroup of one run; `id` must be a safe folder name. */
  createRun(id: string, limits: CgroupLimits): RunCgroup {
    if (!/^[A-Za-z0-9_.-]+$/.test(id) || id.startsWith('.')) {
      throw new Error(`not a safe cgroup name: ${id}`);
    }
    const memory = path.join(this.parents.memory, id);
    const pids = path.join(this.parents.pids, id);
    const dirs = [...new Set([memory, pids])];
    for (const dir of dirs) fs.mkdirSync(dir);
    try {
      if (this.version === 1) {
        fs.writeFileSync(
          path.join(memory, 'memory.limit_in_bytes'),
          String(limits.memoryBytes),
        );
        const memsw = path.join(memory, 'memory.memsw.limit_in_bytes');
        if (fs.existsSync(memsw))
          fs.writeFileSync(memsw, String(limits.memoryBytes));
        fs.writeFileSync(
          path.join(pids, 'pids.max'),
          String(limits.maxProcesses),
        );
      } else {
        fs.writeFileSync(
          path.join(memory, 'memory.max'),
          String(limits.memoryBytes),
        );
        const swap = path.join(memory, 'memory.swap.max');
        if (fs.existsSync(swap)) fs.writeFileSync(swap, '0');
        fs.writeFileSync(
          path.join(memory, 'pids.max'),
          String(limits.maxProcesses),
        );
      }
    } catch (error) {
      for (const dir of dirs) fs.rmSync(dir, { recursive: false, force: true });
      throw error;
    }
    return new RunCgroupDirs(this.version, memory, pids);
  }
}

/** controller -> path of this process's cgroup (v1 lines `N:memory:/path`). */
function ownCgroups(): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of read('/proc/self/cgroup').split('\n')) {
    const [, controllers, cgroupPath] = line.split(':');
    if (!controllers || cgroupPath === undefined) continue;
    for (const c of controllers.split(',')) map.set(c, cgroupPath);
  }
  return map;
}

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Parses `key value` lines (memory.oom_control, *.events). */
function keyed(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key) map.set(key, Number(value));
  }
  return map;
}
