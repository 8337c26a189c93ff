import { CgroupReport } from './cgroups';

/** Paths the runtime sees for one run's private files. */
export interface RunPaths {
  /** The only writable folder (working directory, HOME, TMPDIR). */
  scratch: string;
  /** Folder with one file per granted secret. */
  secretsDir: string;
  /** The input, when too large for AGENT_INPUT. */
  inputFile: string;
  /** Unix socket of the run's egress proxy. */
  egressSocket: string;
}

/** What a sandbox needs to start one run. */
export interface SandboxRunSpec {
  executionId: string;
  /** Host folder with the agent's code (mounted read-only). */
  codeDir: string;
  /**
   * Host folder of this run's private files, laid out as
   * {@link RunSandbox.hostPaths}; the sandbox hands it to the run's own uid.
   */
  runDir: string;
  env: Record<string, string>;
  memoryBytes: number;
  heapMiB: number;
  /** CPU seconds the whole run may use before the kernel stops it. */
  cpuSeconds: number;
}

/** A run ready to be spawned, and the handles to watch and stop it. */
export interface PreparedRun {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** Sends a signal to the run's processes (the agent, not the sandbox's own monitor, for SIGTERM). */
  signal(signal: NodeJS.Signals, rootPid: number | undefined): void;
  /** What the kernel counted, once the run ended. */
  report(): CgroupReport;
  /** Kills anything left and releases the run's kernel resources. */
  dispose(): Promise<void>;
}

/**
 * Where a local run's processes live: `bubblewrap` (namespaces, an
 * unprivileged uid, cgroup limits, no network) or `none` (a plain child
 * process, only when configured explicitly).
 */
export interface RunSandbox {
  readonly kind: 'bubblewrap' | 'none';
  /** Checks that runs can start (once, at start-up); returns why not, or null. */
  check(): Promise<string | null>;
  /** null when runs can start, else why they cannot. */
  unavailableReason(): string | null;
  /** Paths of a run's private files as the runtime sees them. */
  innerPaths(runDir: string): RunPaths;
  /** Host paths of the same files below a run folder. */
  hostPaths(runDir: string): RunPaths;
  prepare(spec: SandboxRunSpec): Promise<PreparedRun>;
}
