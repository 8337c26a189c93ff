/*
 * The Dockerfiles cannot be built here (no Docker engine), so this checks what
 * can be checked without one: every COPY source exists in its build context,
 * the image is non-root and read-only-root friendly, and the ENTRYPOINT works
 * as a plain process on a copy of the image's file layout.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lastEvent, runRuntime } from './testing';
import { spawnSync } from 'node:child_process';

const PKG = path.resolve(__dirname, '..');
const REPO = path.resolve(PKG, '../..');

interface Instruction {
  op: string;
  args: string;
}

/** Parses a Dockerfile into instructions (continuations joined, comments dropped). */
function parseDockerfile(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter(l => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map(l => l.trim())
    .filter(Boolean)
    .map(l => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/** The local sources of COPY instructions (not `--from=` stages). */
function copySources(instructions: Instruction[]): string[] {
  return instructions
    .filter(i => i.op === 'COPY' && !/--from=/.test(i.args))
    .flatMap(i => {
      const parts = i.args.split(/\s+/).filter(p => !p.startsWith('--'));
      return parts.slice(0, -1);
    });
}

function copyDir(
  from: string,
  to: string,
  skip: (name: string) => boolean = () => false,
) {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (skip(entry.name)) continue;
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyDir(src, dst, skip);
    else fs.copyFileSync(src, dst);
  }
}

/** Links the runtime dependencies (and theirs) into a flat node_modules, like `npm install --omit=dev`. */
function linkRuntimeDependencies(target: string) {
  const pkg = JSON.parse(
    fs.readFileSync(path.join(PKG, 'package.json'), 'utf8'),
  );
  const queue: Array<[string, string]> = Object.keys(pkg.dependencies).map(
    d => [d, PKG],
  );
  const done = new Set<string>();
  while (queue.length) {
    const [name, from] = queue.shift()!;
    if (done.has(name)) continue;
    done.add(name);
    const pkgJson = require.resolve(`${name}/package.json`, { paths: [from] });
    const dir = fs.realpathSync(path.dirname(pkgJson));
    fs.mkdirSync(path.dirname(path.join(target, name)), { recursive: true });
    fs.symlinkSync(dir, path.join(target, name));
    const deps =
      JSON.parse(fs.readFileSync(pkgJson, 'utf8')).dependencies ?? {};
    for (const d of Object.keys(deps)) queue.push([d, dir]);
  }
}

describe('base image Dockerfile', () => {
  const instructions = parseDockerfile(
    fs.readFileSync(path.join(PKG, 'Dockerfile'), 'utf8'),
  );
  const finalStage = instructions.slice(
    instructions.map(i => i.op).lastIndexOf('FROM'),
  );

  it('copies only files that exist in its build context, and no tests', () => {
    const sources = copySources(instructions);
    expect(sources).toEqual(['package.json', 'package.json', 'bin', 'src']);
    for (const s of sources)
      expect(fs.existsSync(path.join(PKG, s))).toBe(true);
    const ignored = fs.readFileSync(path.join(PKG, '.dockerignore'), 'utf8');
    expect(ignored).toContain('**/*.test.ts');
  });

  it('runs as a non-root uid with HOME and the working dir on /tmp', () => {
    expect(finalStage.find(i => i.op === 'USER')?.args).toBe('10001:10001');
    expect(finalStage.find(i => i.op === 'WORKDIR')?.args).toBe('/tmp');
    expect(finalStage.find(i => i.op === 'ENV')?.args).toContain('HOME=/tmp');
  });

  it('has an ENTRYPOINT that runs an agent as a plain process on the image layout', async () => {
    const entrypoint = JSON.parse(
      finalStage.find(i => i.op === 'ENTRYPOINT')!.args,
    );
    expect(entrypoint).toEqual([
      'node',
      '/opt/agent-runtime/bin/agent-runtime.js',
      'run',
      '/agent',
    ]);

    // Recreate the image's filesystem under a temp root, outside the repo.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-image-'));
    const runtimeDir = path.join(root, 'opt/agent-runtime');
    fs.mkdirSync(runtimeDir, { recursive: true });
    fs.copyFileSync(
      path.join(PKG, 'package.json'),
      path.join(runtimeDir, 'package.json'),
    );
    copyDir(path.join(PKG, 'bin'), path.join(runtimeDir, 'bin'));
    copyDir(
      path.join(PKG, 'src'),
      path.join(runtimeDir, 'src'),
      n => n.endsWith('.test.ts') || n === 'testing.ts',
    );
    linkRuntimeDependencies(path.join(runtimeDir, 'node_modules'));
    // The agent image adds the agent's code at /agent.
    copyDir(
      path.join(REPO, 'catalog/agents/summarizer'),
      path.join(root, 'agent'),
    );

    const [, script, command, agentDir] = entrypoint;
    const res = spawnSync(
      process.execPath,
      [path.join(root, script), command, path.join(root, agentDir)],
      {
        cwd: os.tmpdir(),
        env: {
          PATH: process.env.PATH,
          HOME: os.tmpdir(),
          AGENT_EXECUTION_ID: 'exec-image-1',
          AGENT_REF: 'agent:default/summarizer',
          AGENT_INPUT: JSON.stringify({
            text: 'One. Two is here. Three.',
            sentences: 5,
          }),
          AGENT_SECRETS_DIR: '/var/run/agent-secrets-absent',
        },
        encoding: 'utf8',
      },
    );
    const events = res.stdout
      .trim()
      .split('\n')
      .map(l => JSON.parse(l));
    expect(res.status).toBe(0);
    expect(events[events.length - 1]).toMatchObject({
      type: 'result',
      result: { summary: 'One. Two is here. Three.', sentences: 3 },
    });
    fs.rmSync(root, { recursive: true, force: true });
  });
});

describe('agent image template', () => {
  const file = path.join(PKG, 'templates/agent.Dockerfile');
  const instructions = parseDockerfile(fs.readFileSync(file, 'utf8'));

  it('builds FROM the runtime base image and copies the agent folder to /agent', () => {
    const froms = instructions.filter(i => i.op === 'FROM').map(i => i.args);
    expect(froms[froms.length - 1]).toBe('${AGENT_RUNTIME_IMAGE}');
    expect(instructions.find(i => i.op === 'ARG')?.args).toMatch(
      /^AGENT_RUNTIME_IMAGE=.*agent-runtime:/,
    );
    expect(copySources(instructions)).toEqual(['.']);
    const final = instructions[instructions.length - 1];
    expect(final).toEqual({
      op: 'COPY',
      args: '--from=build --chown=0:0 /agent /agent',
    });
  });

  it('works for every example agent: its entrypoint exists in the build context and runs', async () => {
    for (const name of fs.readdirSync(path.join(REPO, 'catalog/agents'))) {
      expect(
        fs.existsSync(path.join(REPO, 'catalog/agents', name, 'index.js')),
      ).toBe(true);
    }
    const run = await runRuntime(
      path.join(REPO, 'catalog/agents/sentiment-preview'),
      {
        env: { AGENT_INPUT: '{"text":"great"}' },
      },
    );
    expect(lastEvent(run).result).toEqual({ score: 1, label: 'positive' });
  });
});
