import fs from 'node:fs';
import {
  eventsOf,
  lastEvent,
  runRuntime,
  startServer,
  writeAgent,
  writeSecrets,
} from './testing';

const SECRET = 'sk-test-9f8e7d6c5b4a';

function agent(body: string, extra: Record<string, string> = {}) {
  return writeAgent({ 'index.js': body, ...extra });
}

describe('agent runtime', () => {
  it('runs a handler: started, logs, progress, result, exit 0, nothing else on stdout', async () => {
    const dir = agent(`
      const { defineAgent } = require('@internal/agent-runtime');
      module.exports = defineAgent({
        async handler(input, ctx) {
          console.log('hello %s', input.who);
          console.error('careful');
          process.stdout.write('raw write\\n');
          ctx.log.warn('warned');
          ctx.progress(50, 'half');
          return { greeting: 'hi ' + input.who, executionId: ctx.executionId };
        },
      });`);
    const run = await runRuntime(dir, {
      env: {
        AGENT_INPUT: '{"who":"ada"}',
        AGENT_REF: 'agent:default/hello',
        AGENT_VERSION: '1.2.3',
      },
    });
    expect(run.strayLines).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.events[0]).toMatchObject({
      type: 'started',
      agent: 'agent:default/hello',
      version: '1.2.3',
      tools: [],
    });
    expect(eventsOf(run, 'log').map(e => [e.level, e.message])).toEqual([
      ['info', 'hello ada'],
      ['error', 'careful'],
      ['info', 'raw write'],
      ['warn', 'warned'],
    ]);
    expect(eventsOf(run, 'progress')).toEqual([
      expect.objectContaining({ percent: 50, message: 'half' }),
    ]);
    expect(lastEvent(run)).toMatchObject({
      type: 'result',
      result: { greeting: 'hi ada', executionId: 'exec-test-1' },
    });
    for (const e of run.events) expect(typeof e.ts).toBe('string');
  });

  it('reads the input from AGENT_INPUT_FILE and refuses invalid input with exit 2', async () => {
    const dir = agent(`module.exports = { handler: input => input };`);
    fs.writeFileSync(`${dir}/in.json`, '{"a":1}');
    const ok = await runRuntime(dir, {
      env: { AGENT_INPUT_FILE: `${dir}/in.json` },
    });
    expect(lastEvent(ok)).toMatchObject({ type: 'result', result: { a: 1 } });
    const bad = await runRuntime(dir, { env: { AGENT_INPUT: '{nope' } });
    expect(bad.code).toBe(2);
    expect(lastEvent(bad)).toMatchObject({
      type: 'error',
      code: 'invalid-input',
    });
    expect(lastEvent(bad).message).toMatch(/AGENT_INPUT is not valid JSON/);
  });

  it('denies a tool that was not granted: the agent sees a clear error, a tool-denied event is recorded, exit 7', async () => {
    const dir = agent(`module.exports = { async handler(input, ctx) {
      if ('http' in ctx.tools) throw new Error('http should not be visible');
      return (await ctx.tools.http.fetch('http://example.com')).status;
    } };`);
    const run = await runRuntime(dir, {
      env: {
        AGENT_TOOLS: '[{"name":"llm"}]',
        AGENT_LLM_BASE_URL: 'http://127.0.0.1:1',
      },
    });
    expect(run.code).toBe(7);
    expect(eventsOf(run, 'tool-denied')).toEqual([
      expect.objectContaining({
        tool: 'http',
        message: 'tool "http" was not granted to this run (granted: llm)',
      }),
    ]);
    expect(lastEvent(run)).toMatchObject({
      type: 'error',
      code: 'tool-denied',
    });
  });

  it('records a denial even when the agent catches it and carries on', async () => {
    const dir = agent(`module.exports = { async handler(input, ctx) {
      try { ctx.tools.catalog; } catch (e) { return { caught: e.name + ': ' + e.message }; }
    } };`);
    const run = await runRuntime(dir);
    expect(run.code).toBe(0);
    expect(eventsOf(run, 'tool-denied')).toHaveLength(1);
    expect(lastEvent(run).result).toEqual({
      caught:
        'ToolDeniedError: tool "catalog" was not granted to this run (granted: none)',
    });
  });

  it('http tool: allowed hosts work, others and redirects to them are denied', async () => {
    const server = await startServer((req, res) => {
      if (req.url === '/redirect') {
        res
          .writeHead(302, {
            location: `http://localhost:${(server as any).port}/ok`,
          })
          .end();
      } else if (req.url === '/redirect-same') {
        res.writeHead(302, { location: '/ok' }).end();
      } else {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"ok":true}');
      }
    });
    try {
      const dir = agent(`module.exports = { async handler(input, ctx) {
        const out = {};
        out.allowed = await ctx.tools.http.getJson(input.base + '/ok');
        out.followed = (await ctx.tools.http.fetch(input.base + '/redirect-same')).status;
        for (const u of [input.base.replace('127.0.0.1', 'localhost') + '/ok', input.base + '/redirect', 'file:///etc/passwd']) {
          try { await ctx.tools.http.fetch(u); out[u] = 'fetched'; } catch (e) { out[u] = e.name; }
        }
        return out;
      } };`);
      const run = await runRuntime(dir, {
        env: {
          AGENT_INPUT: JSON.stringify({ base: server.url }),
          AGENT_TOOLS: JSON.stringify([
            { name: 'http', allowHosts: ['127.0.0.1', '*.example.com'] },
          ]),
        },
      });
      expect(run.code).toBe(0);
      const result = lastEvent(run).result;
      expect(result.allowed).toEqual({ ok: true });
      expect(result.followed).toBe(200);
      expect(result[`http://localhost:${server.port}/ok`]).toBe(
        'ToolDeniedError',
      );
      expect(result[`${server.url}/redirect`]).toBe('ToolDeniedError');
      expect(result['file:///etc/passwd']).toBe('ToolDeniedError');
      expect(eventsOf(run, 'tool-denied').map(e => e.message)).toEqual([
        `http: host "localhost:${server.port}" is not in the allow-list of this run (127.0.0.1, *.example.com)`,
        `http: host "localhost:${server.port}" is not in the allow-list of this run (127.0.0.1, *.example.com)`,
        'http: only http and https URLs are allowed, not file:',
      ]);
      // The denied hosts were never contacted.
      expect(server.requests.map(r => r.headers.host)).toEqual([
        `127.0.0.1:${server.port}`,
        `127.0.0.1:${server.port}`,
        `127.0.0.1:${server.port}`,
        `127.0.0.1:${server.port}`,
      ]);
    } finally {
      await server.close();
    }
  });

  it('llm tool: calls /chat/completions with the model and the key, the key never printed', async () => {
    const server = await startServer((req, res) => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(
          JSON.stringify({
            choices: [
              {
                message: {
                  role: 'assistant',
                  content: `echo: ${JSON.parse(req.body).messages[0].content}`,
                },
              },
            ],
          }),
        );
    });
    try {
      const dir = agent(`module.exports = { async handler(input, ctx) {
        ctx.log('using key ' + ctx.secrets.get('OPENAI_API_KEY'));
        return { answer: await ctx.tools.llm.complete({ messages: [{ role: 'user', content: input.q }], temperature: 0 }) };
      } };`);
      const run = await runRuntime(dir, {
        env: {
          AGENT_INPUT: '{"q":"ping"}',
          AGENT_TOOLS: '[{"name":"llm"}]',
          AGENT_LLM_BASE_URL: `${server.url}/v1/`,
          AGENT_LLM_MODEL: 'tiny-model',
          AGENT_SECRETS_DIR: writeSecrets({ OPENAI_API_KEY: `${SECRET}\n` }),
        },
      });
      expect(run.code).toBe(0);
      expect(lastEvent(run).result).toEqual({ answer: 'echo: ping' });
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0].url).toBe('/v1/chat/completions');
      expect(server.requests[0].headers.authorization).toBe(`Bearer ${SECRET}`);
      expect(JSON.parse(server.requests[0].body)).toEqual({
        model: 'tiny-model',
        messages: [{ role: 'user', content: 'ping' }],
        temperature: 0,
      });
      expect(run.stdout).not.toContain(SECRET);
      expect(eventsOf(run, 'log')[0].message).toBe('using key [REDACTED]');
    } finally {
      await server.close();
    }
  });

  it('llm tool: a failing endpoint is an agent error naming the status', async () => {
    const server = await startServer((_req, res) =>
      res.writeHead(429).end('slow down'),
    );
    try {
      const dir = agent(
        `module.exports = { handler: (input, ctx) => ctx.tools.llm.complete({ messages: [{ role: 'user', content: 'x' }] }) };`,
      );
      const run = await runRuntime(dir, {
        env: {
          AGENT_TOOLS: '[{"name":"llm"}]',
          AGENT_LLM_BASE_URL: server.url,
        },
      });
      expect(run.code).toBe(1);
      expect(lastEvent(run)).toMatchObject({
        code: 'agent-error',
        message: 'llm: the model endpoint answered 429: slow down',
      });
    } finally {
      await server.close();
    }
  });

  it('catalog tool: queries with the bearer token, follows pages, never prints the token', async () => {
    const token = 'catalog-token-abc123';
    const server = await startServer((req, res) => {
      const url = new URL(req.url, 'http://x');
      if (url.pathname.startsWith('/api/catalog/entities/by-name/')) {
        res.writeHead(url.pathname.endsWith('/missing') ? 404 : 200, {
          'content-type': 'application/json',
        });
        res.end(JSON.stringify({ kind: 'Group', metadata: { name: 'team' } }));
        return;
      }
      const page = url.searchParams.get('cursor')
        ? { items: [{ kind: 'Agent', metadata: { name: 'b' } }], pageInfo: {} }
        : {
            items: [{ kind: 'Component', metadata: { name: 'a' } }],
            pageInfo: { nextCursor: 'c2' },
          };
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(page));
    });
    try {
      const dir = agent(`module.exports = { async handler(input, ctx) {
        const entities = await ctx.tools.catalog.getEntities({ filter: { kind: ['Component', 'Agent'] } });
        console.log('token is ${token}');
        return {
          names: entities.map(e => e.metadata.name),
          group: (await ctx.tools.catalog.getEntityByRef('group:default/team')).metadata.name,
          missing: (await ctx.tools.catalog.getEntityByRef('group:missing')) ?? null,
        };
      } };`);
      const run = await runRuntime(dir, {
        env: {
          AGENT_TOOLS: '[{"name":"catalog"}]',
          AGENT_CATALOG_BASE_URL: `${server.url}/api/catalog`,
          AGENT_CATALOG_TOKEN: token,
        },
      });
      expect(run.code).toBe(0);
      expect(lastEvent(run).result).toEqual({
        names: ['a', 'b'],
        group: 'team',
        missing: null,
      });
      expect(
        server.requests.every(
          r => r.headers.authorization === `Bearer ${token}`,
        ),
      ).toBe(true);
      const first = new URL(server.requests[0].url, 'http://x');
      expect(first.pathname).toBe('/api/catalog/entities/by-query');
      expect(first.searchParams.getAll('filter')).toEqual([
        'kind=Component',
        'kind=Agent',
      ]);
      expect(
        new URL(server.requests[1].url, 'http://x').searchParams.get('cursor'),
      ).toBe('c2');
      expect(server.requests[2].url).toBe(
        '/api/catalog/entities/by-name/group/default/team',
      );
      expect(run.stdout).not.toContain(token);
      expect(run.stdout).toContain('token is [REDACTED]');
    } finally {
      await server.close();
    }
  });

  it('exposes only the secrets in AGENT_SECRETS_DIR; a missing one fails with secret-missing', async () => {
    const dir = agent(`module.exports = { async handler(input, ctx) {
      ctx.log(JSON.stringify({ names: ctx.secrets.names(), other: ctx.secrets.get('OTHER') ?? null, env: Object.keys(process.env).filter(k => k.includes('TOKEN')) }));
      ctx.secrets.require('NEEDED');
    } };`);
    const secretsDir = writeSecrets({ GIVEN: SECRET });
    fs.mkdirSync(`${secretsDir}/..data`);
    const run = await runRuntime(dir, {
      env: { AGENT_SECRETS_DIR: secretsDir },
    });
    expect(run.code).toBe(6);
    expect(JSON.parse(eventsOf(run, 'log')[0].message)).toEqual({
      names: ['GIVEN'],
      other: null,
      env: [],
    });
    expect(lastEvent(run)).toMatchObject({
      type: 'error',
      code: 'secret-missing',
      message: 'secret not provided: NEEDED',
    });
  });

  it('checks the secrets a defineAgent declares before running the handler', async () => {
    const dir =
      agent(`const { defineAgent } = require('@internal/agent-runtime');
      module.exports = defineAgent({ secrets: ['API_KEY'], handler: (i, ctx) => { ctx.log('ran'); return 1; } });`);
    const run = await runRuntime(dir);
    expect(run.code).toBe(6);
    expect(eventsOf(run, 'log')).toEqual([]);
    expect(lastEvent(run).message).toBe('secret not provided: API_KEY');
  });

  it('redacts secret values from logs, errors and results', async () => {
    const dir = agent(`module.exports = { async handler(input, ctx) {
      const s = ctx.secrets.get('TOKEN');
      console.log('the token', s, Buffer.from(s).toString('base64'));
      console.error(JSON.stringify({ s }));
      if (input.fail) throw new Error('bad token ' + s);
      return { leaked: s, nested: [{ again: 'x' + s + 'y' }] };
    } };`);
    const secret = 'p@ss"w\\ord';
    const env = { AGENT_SECRETS_DIR: writeSecrets({ TOKEN: secret }) };
    const ok = await runRuntime(dir, { env });
    const failed = await runRuntime(dir, {
      env: { ...env, AGENT_INPUT: '{"fail":true}' },
    });
    for (const run of [ok, failed]) {
      expect(run.strayLines).toEqual([]);
      expect(run.stdout).not.toContain(secret);
      expect(run.stdout).not.toContain(JSON.stringify(secret).slice(1, -1));
      expect(run.stdout).not.toContain(Buffer.from(secret).toString('base64'));
    }
    expect(lastEvent(ok).result).toEqual({
      leaked: '[REDACTED]',
      nested: [{ again: 'x[REDACTED]y' }],
    });
    expect(eventsOf(ok, 'log').map(e => e.message)).toEqual([
      'the token [REDACTED] [REDACTED]',
      '{"s":"[REDACTED]"}',
    ]);
    expect(lastEvent(failed)).toMatchObject({
      code: 'agent-error',
      message: 'bad token [REDACTED]',
    });
  });

  it('times out: aborts the signal, then an error event `timeout` and exit 124', async () => {
    const dir =
      agent(`module.exports = { handler: (input, ctx) => new Promise(() => {
      ctx.signal.addEventListener('abort', () => ctx.log('abort seen'));
      setInterval(() => {}, 1000);
    }) };`);
    const run = await runRuntime(dir, {
      env: { AGENT_TIMEOUT_SECONDS: '0.3' },
    });
    expect(run.code).toBe(124);
    expect(eventsOf(run, 'log').map(e => e.message)).toEqual(['abort seen']);
    expect(lastEvent(run)).toMatchObject({
      type: 'error',
      code: 'timeout',
      message: 'the run exceeded its timeout of 0.3s',
    });
  });

  it('handles SIGTERM from outside like a timeout and exits promptly', async () => {
    const dir =
      agent(`module.exports = { handler: (input, ctx) => new Promise(() => {
      setInterval(() => {}, 1000);
      ctx.log('ready');
    }) };`);
    let killedAt = 0;
    const run = await runRuntime(dir, {
      onEvent: (e, kill) => {
        if (e.type === 'log' && e.message === 'ready') {
          killedAt = Date.now();
          kill('SIGTERM');
        }
      },
    });
    expect(Date.now() - killedAt).toBeLessThan(2000);
    expect(run.code).toBe(124);
    expect(lastEvent(run)).toMatchObject({
      code: 'timeout',
      message: expect.stringContaining('SIGTERM'),
    });
  });

  it('emits heartbeats while the agent works', async () => {
    const dir = agent(
      `module.exports = { handler: () => new Promise(r => setTimeout(() => r('done'), 400)) };`,
    );
    const run = await runRuntime(dir, {
      env: { AGENT_HEARTBEAT_SECONDS: '0.1' },
    });
    expect(run.code).toBe(0);
    expect(eventsOf(run, 'heartbeat').length).toBeGreaterThanOrEqual(2);
    expect(lastEvent(run)).toMatchObject({ type: 'result', result: 'done' });
  });

  it('refuses a result larger than AGENT_MAX_RESULT_BYTES with exit 4', async () => {
    const dir = agent(
      `module.exports = { handler: () => ({ blob: 'x'.repeat(2000) }) };`,
    );
    const run = await runRuntime(dir, {
      env: { AGENT_MAX_RESULT_BYTES: '1000' },
    });
    expect(run.code).toBe(4);
    expect(eventsOf(run, 'result')).toEqual([]);
    expect(lastEvent(run)).toMatchObject({
      code: 'result-too-large',
      message: 'the result is 2011 bytes, more than the limit of 1000 bytes',
    });
  });

  it('validates the result against AGENT_OUTPUT_SCHEMA (exit 3 naming the field)', async () => {
    const dir = agent(`module.exports = { handler: input => input };`);
    const schema = JSON.stringify({
      type: 'object',
      required: ['count'],
      properties: {
        count: { type: 'integer' },
        url: { type: 'string', format: 'uri' },
      },
    });
    const ok = await runRuntime(dir, {
      env: {
        AGENT_OUTPUT_SCHEMA: schema,
        AGENT_INPUT: '{"count":3,"url":"https://x.dev"}',
      },
    });
    expect(ok.code).toBe(0);
    const bad = await runRuntime(dir, {
      env: {
        AGENT_OUTPUT_SCHEMA: schema,
        AGENT_INPUT: '{"count":"three","url":"nope"}',
      },
    });
    expect(bad.code).toBe(3);
    expect(eventsOf(bad, 'result')).toEqual([]);
    expect(lastEvent(bad)).toMatchObject({
      code: 'invalid-output',
      message:
        'the result does not match the output schema: /count must be integer; /url must match format "uri"',
    });
  });

  it('turns unhandled rejections and crashes into agent-error, exit 1', async () => {
    const rejecting = agent(
      `module.exports = { handler: () => { Promise.reject(new Error('lost promise')); return new Promise(r => setTimeout(r, 1000)); } };`,
    );
    const run = await runRuntime(rejecting);
    expect(run.code).toBe(1);
    expect(lastEvent(run)).toMatchObject({
      code: 'agent-error',
      message: 'unhandled promise rejection: lost promise',
    });

    const hanging = agent(
      `module.exports = { handler: () => new Promise(() => {}) };`,
    );
    const hung = await runRuntime(hanging);
    expect(hung.code).toBe(1);
    expect(lastEvent(hung).message).toMatch(/never settled/);
  });

  it('reports agents that cannot be loaded with load-error, exit 5', async () => {
    const cases: Array<
      [Record<string, string>, Record<string, string>, RegExp]
    > = [
      [
        { 'index.js': 'module.exports = { nothing: 1 };' },
        {},
        /exports no handler/,
      ],
      [
        { 'index.js': 'module.exports = {' },
        {},
        /failed to load: .*SyntaxError/s,
      ],
      [
        { 'index.js': '' },
        { AGENT_ENTRYPOINT: 'main.js' },
        /main\.js does not exist/,
      ],
      [
        { 'index.js': '' },
        { AGENT_ENTRYPOINT: '../../etc/passwd' },
        /outside the agent folder/,
      ],
      [
        { 'index.js': 'module.exports = () => 1;' },
        { AGENT_TOOLS: '{"name":"http"}' },
        /AGENT_TOOLS must be a JSON array/,
      ],
    ];
    for (const [files, env, message] of cases) {
      const run = await runRuntime(writeAgent(files), { env });
      expect(run.code).toBe(5);
      expect(lastEvent(run)).toMatchObject({
        type: 'error',
        code: 'load-error',
        message: expect.stringMatching(message),
      });
    }
  });

  it('loads ES modules with a default export and package.json main', async () => {
    const dir = writeAgent({
      'package.json': '{"main":"src/agent.mjs"}',
      'src/agent.mjs':
        'export default { handler: async input => ({ doubled: input.n * 2 }) };',
    });
    const run = await runRuntime(dir, { env: { AGENT_INPUT: '{"n":21}' } });
    expect(run.code).toBe(0);
    expect(lastEvent(run).result).toEqual({ doubled: 42 });
  });

  describe('local run command', () => {
    it('builds the platform environment from options and pretty-prints the events', async () => {
      const dir = writeAgent({
        'index.js': `module.exports = { handler: (input, ctx) => ({ who: input.who, key: ctx.secrets.require('KEY'), tools: Object.keys(ctx.tools) }) };`,
        'catalog-info.yaml': [
          'apiVersion: agentplatform.dev/v1alpha1',
          'kind: Agent',
          'metadata: { name: local-one }',
          'spec:',
          '  version: 0.4.0',
          '  runtime: { image: x, entrypoint: index.js }',
          '  output: { type: object, required: [who], properties: { who: { type: string } } }',
        ].join('\n'),
        'input.json': '{"who":"grace"}',
      });
      const run = await runRuntime(dir, {
        args: [
          '--input',
          `${dir}/input.json`,
          '--grant',
          'http,llm',
          '--allow-host',
          'example.com',
          '--secret',
          `KEY=${SECRET}`,
        ],
      });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(
        /started {3}agent:default\/local-one@0\.4\.0 tools=\[http, llm\]/,
      );
      expect(run.stdout).toContain('"who": "grace"');
      expect(run.stdout).toContain('"key": "[REDACTED]"');
      expect(run.stdout).not.toContain(SECRET);
      expect(run.stderr).toContain('exit 0 (success)');

      const invalid = await runRuntime(dir, {
        args: ['--input-json', '{"who":5}', '--secret', 'KEY=x'],
      });
      expect(invalid.code).toBe(3);
      expect(invalid.stdout).toMatch(
        /ERROR {5}invalid-output: .*\/who must be string/,
      );
    });

    it('explains bad usage', async () => {
      const run = await runRuntime('/nonexistent-agent-dir', {
        args: ['--bogus'],
      });
      expect(run.code).toBe(64);
      expect(run.stderr).toContain('unknown option --bogus');
      expect(run.stderr).toContain('Usage:');
    });
  });
});
