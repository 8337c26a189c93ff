// Runs the agent through the agent runtime exactly as the platform does
// (`node --test`). The runtime comes from AGENT_RUNTIME_BIN or the
// @internal/agent-runtime package. The agent's name, tools and input fields
// are data in agent.json, written by the "New agent" template.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');

const RUNTIME = process.env.AGENT_RUNTIME_BIN || require.resolve('@internal/agent-runtime/bin/agent-runtime.js');
const agent = require('./agent.json');

const EXAMPLE_VALUES = { string: 'example', number: 1.5, integer: 2, boolean: true };
const TOOLS = agent.tools;
const SAMPLE_INPUT = Object.fromEntries(
  agent.inputFields.map(field => [field.name, EXAMPLE_VALUES[field.type]]),
);

function run(input, grants) {
  const args = [RUNTIME, 'run', __dirname, '--raw', '--input-json', JSON.stringify(input)];
  if (grants.length) args.push('--grant', grants.join(','));
  const res = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const events = res.stdout.split('\n').filter(Boolean).map(line => JSON.parse(line));
  return { code: res.status, events, last: events[events.length - 1] };
}

test('runs to a result that matches the output schema', () => {
  const { code, events, last } = run(SAMPLE_INPUT, TOOLS);
  assert.equal(code, 0, JSON.stringify(last));
  assert.equal(events[0].type, 'started');
  assert.deepEqual(last.result, {
    message: `${agent.name} received ${Object.keys(SAMPLE_INPUT).length} field(s)`,
    received: SAMPLE_INPUT,
    tools: TOOLS,
  });
});

test('reports progress and logs through the runtime', () => {
  const { events } = run(SAMPLE_INPUT, TOOLS);
  assert.ok(events.some(e => e.type === 'progress' && e.percent === 100));
  assert.ok(events.some(e => e.type === 'log' && e.message.startsWith('received ')));
});
