import { spawn } from 'node:child_process';
import { RUNTIME_BIN, writeAgent } from './testing';

jest.setTimeout(30_000);

describe('agent runtime exit', () => {
  it('exits only once every event is written, also to a reader slower than the agent', async () => {
    const dir = writeAgent({
      'index.js': `
        module.exports = {
          async handler(input, ctx) {
            for (let i = 0; i < 3000; i++) ctx.log('line ' + i + ' ' + 'x'.repeat(150));
            return { done: true };
          },
        };`,
    });
    const child = spawn(process.execPath, [RUNTIME_BIN, 'run', dir], {
      env: { PATH: process.env.PATH, AGENT_INPUT: '{}' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // A slow reader: nothing is read for a while, so the runtime's writes queue.
    child.stdout.pause();
    await new Promise(resolve => setTimeout(resolve, 1000));
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', chunk => {
      out += chunk;
    });
    child.stdout.resume();
    const code = await new Promise(resolve => child.on('close', resolve));
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines.filter(l => l.includes('"type":"log"'))).toHaveLength(3000);
    expect(JSON.parse(lines[lines.length - 1])).toMatchObject({
      type: 'result',
      result: { done: true },
    });
  });
});
