#!/usr/bin/env node
/*
 * Start-up overhead of the agent runtime: median wall time of running a
 * trivial agent through `agent-runtime run <dir>` (a child process, as the
 * local executor and the container do) divided by the median time of `node`
 * running the same handler directly (also a child process). Runs interleaved,
 * in one invocation.
 *
 *   node bench/runtime-startup.js [--runs 30]
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 30;
const RUNTIME = path.resolve(
  __dirname,
  '../packages/agent-runtime/bin/agent-runtime.js',
);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-agent-'));
fs.writeFileSync(
  path.join(dir, 'index.js'),
  'module.exports = { handler: async input => ({ echo: input.n }) };\n',
);
fs.writeFileSync(
  path.join(dir, 'direct.js'),
  `require('./index.js').handler({ n: 1 }, {}).then(r => process.stdout.write(JSON.stringify(r) + '\\n'));\n`,
);

function time(args, env) {
  const t0 = process.hrtime.bigint();
  const res = spawnSync(process.execPath, args, {
    cwd: os.tmpdir(),
    env,
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (res.status !== 0)
    throw new Error(`run failed (${res.status}): ${res.stdout}${res.stderr}`);
  return { ms, stdout: res.stdout };
}

const median = xs => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? s[(s.length - 1) / 2]
    : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const baseEnv = { PATH: process.env.PATH, HOME: os.tmpdir() };
const runtimeEnv = {
  ...baseEnv,
  AGENT_EXECUTION_ID: 'bench',
  AGENT_INPUT: '{"n":1}',
};
const direct = [];
const runtime = [];
// Warm the file cache once, then interleave so both see the same machine load.
const check = time([RUNTIME, 'run', dir], runtimeEnv);
if (!check.stdout.includes('"result":{"echo":1}'))
  throw new Error(`unexpected runtime output: ${check.stdout}`);
if (time([path.join(dir, 'direct.js')], baseEnv).stdout.trim() !== '{"echo":1}')
  throw new Error('direct run failed');
for (let i = 0; i < RUNS; i++) {
  direct.push(time([path.join(dir, 'direct.js')], baseEnv).ms);
  runtime.push(time([RUNTIME, 'run', dir], runtimeEnv).ms);
}
fs.rmSync(dir, { recursive: true, force: true });

const mDirect = median(direct);
const mRuntime = median(runtime);
console.log(
  `node ${process.version}, ${os.cpus().length} cpus, ${RUNS} runs each`,
);
console.log(`direct node handler: median ${mDirect.toFixed(1)} ms`);
console.log(`through agent-runtime: median ${mRuntime.toFixed(1)} ms`);
console.log(
  `start-up overhead ratio (runtime / direct): ${(mRuntime / mDirect).toFixed(
    2,
  )}x (+${(mRuntime - mDirect).toFixed(1)} ms)`,
);
