import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The name of a signal number (`9` -> `SIGKILL`). */
export function signalName(n: number): NodeJS.Signals | undefined {
  return (Object.keys(os.constants.signals) as NodeJS.Signals[]).find(
    name => os.constants.signals[name] === n,
  );
}

/** Parses a Kubernetes CPU quantity (`250m`, `2`) into cores; 1 when it cannot. */
export function cpuToCores(quantity: string | undefined): number {
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(String(quantity ?? '').trim());
  if (!match) return 1;
  return Number(match[1]) / (match[2] ? 1000 : 1);
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
    M: (1000 * 1000) / 1024 / 1024,
    m: (1000 * 1000) / 1024 / 1024,
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
