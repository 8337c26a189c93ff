/*
 * Start-up cost of the local sandbox: the wall time of one sandboxed run of a
 * trivial agent (the production BubblewrapSandbox: cgroup created, uid
 * handed over, bubblewrap namespaces and mounts, the agent runtime, cgroup
 * removed) against bare `node` running the same handler, and against the
 * runtime without a sandbox. The three are interleaved in one invocation so
 * they see the same machine load. Needs root and bubblewrap, as the sandbox does.
 *
 * Leaves out: the executor's queue, secret resolution and record keeping
 * (measured by the admission and dispatch benchmarks), and the egress proxy
 * (bench/egress-proxy.ts).
 *
 *   node --require ./node_modules/@backstage/cli/config/nodeTransform.cjs bench/sandbox-startup.ts --runs 30
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BubblewrapSandbox } from '../plugins/infra-control-plane-backend/src/services/executors/sandbox/BubblewrapSandbox';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 30;
const RUNTIME = path.resolve(
  __dirname,
  '../packages/agent-runtime/bin/agent-runtime.js',
);

function timed(
  command: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
) {
  return new Promise<{ ms: number; stdout: string }>((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(command, args, {
      env,
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', d => (stdout += d));
    child.stderr.on('data', d => (stderr += d));
    child.on('close', code => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`exit ${code}: ${stdout}${stderr}`));
      else resolve({ ms, stdout });
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? s[(s.length - 1) / 2]
    : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const p90 = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-sandbox-'));
  fs.chmodSync(dir, 0o755);
  const agent = path.join(dir, 'agent');
  fs.mkdirSync(agent);
  fs.writeFileSync(
    path.join(agent, 'index.js'),
    'module.exports = { handler: async input => ({ echo: input.n }) };\n',
  );
  fs.writeFileSync(
    path.join(dir, 'direct.js'),
    `require('./agent/index.js').handler({ n: 1 }, {}).then(r => process.stdout.write(JSON.stringify(r) + '\\n'));\n`,
  );
  const sandbox = new BubblewrapSandbox({
    runtimePath: RUNTIME,
    scratchMiB: 64,
    maxProcesses: 64,
    uidBase: 810000,
    uidCount: 4,
  });
  const problem = await sandbox.check();
  if (problem) throw new Error(problem);
  const env = {
    PATH: '/usr/bin:/bin',
    HOME: os.tmpdir(),
    AGENT_EXECUTION_ID: 'bench',
    AGENT_INPUT: '{"n":1}',
  };

  const bare: number[] = [];
  const runtime: number[] = [];
  const sandboxed: number[] = [];
  for (let i = -3; i < RUNS; i++) {
    const a = await timed(
      process.execPath,
      [path.join(dir, 'direct.js')],
      env,
      dir,
    );
    const b = await timed(process.execPath, [RUNTIME, 'run', agent], env, dir);
    const t0 = process.hrtime.bigint();
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-run-'));
    fs.mkdirSync(path.join(runDir, 'secrets'));
    const prepared = await sandbox.prepare({
      executionId: `bench-${process.pid}-${i + 3}`,
      codeDir: agent,
      runDir,
      env,
      memoryBytes: 256 * 1024 * 1024,
      heapMiB: 128,
      cpuSeconds: 30,
    });
    const c = await timed(
      prepared.command,
      prepared.args,
      prepared.env,
      prepared.cwd,
    );
    await prepared.dispose();
    fs.rmSync(runDir, { recursive: true, force: true });
    const cMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (
      !a.stdout.includes('"echo":1') ||
      !b.stdout.includes('"echo":1') ||
      !c.stdout.includes('"echo":1')
    ) {
      throw new Error(
        `unexpected output: ${a.stdout} | ${b.stdout} | ${c.stdout}`,
      );
    }
    if (i < 0) continue; // warm-up
    bare.push(a.ms);
    runtime.push(b.ms);
    sandboxed.push(cMs);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(
    `node ${process.version}, ${
      os.cpus().length
    } cpus, ${RUNS} runs each (interleaved, 3 warm-up)`,
  );
  console.log(
    `bare node running the handler:         median ${median(bare).toFixed(
      1,
    )} ms, p90 ${p90(bare).toFixed(1)} ms`,
  );
  console.log(
    `agent runtime, no sandbox:             median ${median(runtime).toFixed(
      1,
    )} ms, p90 ${p90(runtime).toFixed(1)} ms`,
  );
  console.log(
    `agent runtime in the bubblewrap sandbox: median ${median(
      sandboxed,
    ).toFixed(1)} ms, p90 ${p90(sandboxed).toFixed(
      1,
    )} ms (incl. cgroup setup and removal)`,
  );
  console.log(
    `sandboxed run / bare node: ${(median(sandboxed) / median(bare)).toFixed(
      2,
    )}x (+${(median(sandboxed) - median(bare)).toFixed(1)} ms)`,
  );
  console.log(
    `sandboxed run / unsandboxed runtime: ${(
      median(sandboxed) / median(runtime)
    ).toFixed(2)}x (+${(median(sandboxed) - median(runtime)).toFixed(1)} ms)`,
  );
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
