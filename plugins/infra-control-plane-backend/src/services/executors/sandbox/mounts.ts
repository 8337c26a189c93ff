import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The host files a sandboxed run reads: the Node binary and the shared
 * libraries it links (from `ldd`), the agent runtime's package folder and the
 * folders of its dependency closure. Everything is mounted read-only at its
 * own host path, so module resolution inside the sandbox is exactly Node's
 * resolution outside it, and nothing else of the host is visible.
 */
export interface ReadOnlyMounts {
  nodePath: string;
  runtimeDir: string;
  /** Files and folders, each mounted at its own path. */
  paths: string[];
}

/** Shared libraries of a dynamically linked binary, or undefined when `ldd` cannot tell. */
export function sharedLibraries(binary: string): string[] | undefined {
  let text: string;
  try {
    text = execFileSync('ldd', [binary], { encoding: 'utf8', timeout: 10_000 });
  } catch {
    return undefined;
  }
  const libs = new Set<string>();
  for (const line of text.split('\n')) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (match) libs.add(match[1]);
  }
  return libs.size ? [...libs] : undefined;
}

/** Folder of package `name` as Node would resolve it from `fromDir`. */
export function findPackageDir(
  name: string,
  fromDir: string,
): string | undefined {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) {
      return fs.realpathSync(candidate);
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The package folder and every (non-dev) dependency folder it needs, transitively. */
export function dependencyClosure(packageDir: string): string[] {
  const seen = new Set<string>();
  const visit = (dir: string) => {
    if (seen.has(dir)) return;
    seen.add(dir);
    const manifest = JSON.parse(
      fs.readFileSync(path.join(dir, 'package.json'), 'utf8'),
    );
    const deps = {
      ...manifest.dependencies,
      ...manifest.optionalDependencies,
      ...manifest.peerDependencies,
    };
    for (const name of Object.keys(deps)) {
      const found = findPackageDir(name, dir);
      if (found) visit(found);
      else if (
        !manifest.optionalDependencies?.[name] &&
        !manifest.peerDependencies?.[name]
      ) {
        throw new Error(`dependency ${name} of ${dir} is not installed`);
      }
    }
  };
  visit(fs.realpathSync(packageDir));
  return [...seen];
}

/** Computes the read-only mounts of the sandbox for a runtime entry script. */
export function readOnlyMounts(
  nodePath: string,
  runtimeScript: string,
): ReadOnlyMounts {
  const node = fs.realpathSync(nodePath);
  let runtimeDir = path.dirname(fs.realpathSync(runtimeScript));
  while (!fs.existsSync(path.join(runtimeDir, 'package.json'))) {
    const parent = path.dirname(runtimeDir);
    if (parent === runtimeDir)
      throw new Error(`no package.json above ${runtimeScript}`);
    runtimeDir = parent;
  }
  const libs = sharedLibraries(node);
  // Without ldd, the system library folders (no user data lives there).
  const system =
    libs ??
    ['/usr/lib', '/usr/lib64', '/lib', '/lib64'].filter(p => fs.existsSync(p));
  return {
    nodePath: node,
    runtimeDir,
    paths: [node, ...system, ...dependencyClosure(runtimeDir)],
  };
}
