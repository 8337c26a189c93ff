import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { AddressInfo } from 'node:net';
import {
  EgressRefusedError,
  createTransport,
  parseProxyAddress,
} from './transport';
import {
  eventsOf,
  lastEvent,
  runRuntime,
  startServer,
  writeAgent,
} from './testing';

const CREDENTIAL = 'egress-credential-0a1b2c3d.sig';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A stand-in for the platform's egress proxy: records the absolute-form
 * requests it receives and answers by host, the way the real proxy does
 * (refusals with x-agentplatform-egress-refused, unreachable destinations
 * with x-agentplatform-egress-error). The real proxy against the real
 * runtime is tested in the infra control plane (egress/EgressProxy.runtime.test.ts).
 */
async function startStandInProxy(listen: { socketPath?: string }) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', c => (body += c));
    req.on('end', () => {
      seen.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body,
      });
      const url = new URL(req.url!);
      if (url.hostname === 'refused.example.com') {
        res.writeHead(403, {
          'x-agentplatform-egress-refused': 'private-address',
        });
        res.end(
          'egress proxy refused the request (private-address): "refused.example.com" resolves to 10.0.0.1 (private), which runs may not reach\n',
        );
      } else if (url.hostname === 'down.example.com') {
        res.writeHead(502, {
          'x-agentplatform-egress-error': 'upstream-connect-failed',
        });
        res.end(
          'egress proxy could not reach the destination (upstream-connect-failed): ECONNREFUSED\n',
        );
      } else if (url.pathname === '/redirect') {
        res.writeHead(302, { location: '/final' });
        res.end();
      } else if (url.pathname === '/empty') {
        res.writeHead(204);
        res.end();
      } else if (url.pathname === '/gzip') {
        res.writeHead(200, {
          'content-encoding': 'gzip',
          'content-type': 'text/plain',
        });
        res.end(zlib.gzipSync('decoded text'));
      } else if (url.pathname === '/never') {
        // never answers: aborted by the client
      } else if (url.pathname === '/half') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first part;');
      } else {
        res.writeHead(200, {
          'content-type': 'application/json',
          'set-cookie': ['a=1', 'b=2'],
        });
        res.end(JSON.stringify({ url: req.url, host: req.headers.host, body }));
      }
    });
  });
  await new Promise<void>(resolve =>
    listen.socketPath
      ? server.listen(listen.socketPath, resolve)
      : server.listen(0, '127.0.0.1', resolve),
  );
  return {
    seen,
    address: listen.socketPath
      ? `unix:${listen.socketPath}`
      : `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('transport', () => {
  let dir: string;
  let proxy: Awaited<ReturnType<typeof startStandInProxy>>;
  let transport: ReturnType<typeof createTransport>;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-egress-'));
    proxy = await startStandInProxy({
      socketPath: path.join(dir, 'egress.sock'),
    });
    transport = createTransport({
      AGENT_EGRESS_PROXY: proxy.address,
      AGENT_EGRESS_CREDENTIAL: CREDENTIAL,
    });
  });
  afterAll(async () => {
    await proxy.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    proxy.seen.length = 0;
  });

  it('without AGENT_EGRESS_PROXY fetches directly', async () => {
    const server = await startServer((_req, res) => res.end('direct'));
    try {
      const direct = createTransport({});
      expect(direct.viaProxy).toBe(false);
      const res = await direct.fetch(`${server.url}/x`);
      expect(await res.text()).toBe('direct');
      expect(server.requests[0].url).toBe('/x');
    } finally {
      await server.close();
    }
  });

  it('sends absolute-form requests with the credential over the Unix socket and returns a fetch Response', async () => {
    expect(transport.viaProxy).toBe(true);
    const res = await transport.fetch('https://api.example.com/v1/items?q=1', {
      headers: { 'x-agent': 'yes' },
    });
    expect(res).toBeInstanceOf(Response);
    expect(res.status).toBe(200);
    expect(res.ok).toBe(true);
    expect(res.url).toBe('https://api.example.com/v1/items?q=1');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await res.json()).toMatchObject({
      url: 'https://api.example.com/v1/items?q=1',
      host: 'api.example.com',
    });
    expect(proxy.seen[0].headers).toMatchObject({
      'proxy-authorization': `Bearer ${CREDENTIAL}`,
      'x-agent': 'yes',
      accept: '*/*',
      'user-agent': 'node',
    });
  });

  it('sends request bodies with their length and content type', async () => {
    const res = await transport.fetch('http://api.example.com/post', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 1 }),
    });
    expect((await res.json()).body).toBe('{"a":1}');
    expect(proxy.seen[0]).toMatchObject({
      method: 'POST',
      headers: { 'content-length': '7', 'content-type': 'application/json' },
    });
    await transport.fetch('http://api.example.com/form', {
      method: 'POST',
      body: new URLSearchParams({ x: 'y z' }),
    });
    expect(proxy.seen[1]).toMatchObject({
      body: 'x=y+z',
      headers: {
        'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
      },
    });
  });

  it('handles bodiless statuses, compressed bodies and TCP proxies', async () => {
    const empty = await transport.fetch('http://api.example.com/empty');
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    expect(
      await (await transport.fetch('http://api.example.com/gzip')).text(),
    ).toBe('decoded text');
    const tcpProxy = await startStandInProxy({});
    try {
      const overTcp = createTransport({
        AGENT_EGRESS_PROXY: tcpProxy.address,
        AGENT_EGRESS_CREDENTIAL: CREDENTIAL,
      });
      expect((await overTcp.fetch('http://api.example.com/tcp')).status).toBe(
        200,
      );
      expect(tcpProxy.seen[0]).toMatchObject({
        url: 'http://api.example.com/tcp',
      });
    } finally {
      await tcpProxy.close();
    }
  });

  it('follows redirects through the proxy by default, and not with redirect: manual', async () => {
    const followed = await transport.fetch('http://api.example.com/redirect');
    expect(followed.url).toBe('http://api.example.com/final');
    expect(proxy.seen.map(s => s.url)).toEqual([
      'http://api.example.com/redirect',
      'http://api.example.com/final',
    ]);
    const manual = await transport.fetch('http://api.example.com/redirect', {
      redirect: 'manual',
    });
    expect(manual.status).toBe(302);
    expect(manual.headers.get('location')).toBe('/final');
  });

  it('turns a proxy refusal into an EgressRefusedError with its reason and message', async () => {
    const error = await transport
      .fetch('https://refused.example.com/')
      .catch(e => e);
    expect(error).toBeInstanceOf(EgressRefusedError);
    expect(error).toMatchObject({
      reason: 'private-address',
      status: 403,
      message: expect.stringContaining(
        '"refused.example.com" resolves to 10.0.0.1 (private)',
      ),
    });
  });

  it('fails like fetch when the destination or the proxy cannot be reached', async () => {
    const down = await transport
      .fetch('http://down.example.com/')
      .catch(e => e);
    expect(down).toBeInstanceOf(TypeError);
    expect(down.message).toBe('fetch failed');
    expect(down.cause).toMatchObject({
      code: 'upstream-connect-failed',
      message: expect.stringMatching(/ECONNREFUSED/),
    });
    const nowhere = createTransport({
      AGENT_EGRESS_PROXY: `unix:${path.join(dir, 'missing.sock')}`,
    });
    const missing = await nowhere
      .fetch('http://api.example.com/')
      .catch(e => e);
    expect(missing).toBeInstanceOf(TypeError);
    expect(missing.cause.message).toMatch(/egress proxy could not be reached/);
    const misconfigured = createTransport({ AGENT_EGRESS_PROXY: 'socks5://x' });
    await expect(
      misconfigured.fetch('http://api.example.com/'),
    ).rejects.toMatchObject({
      cause: {
        message: expect.stringMatching(
          /must be unix:\/absolute\/path.sock or http:\/\/host:port/,
        ),
      },
    });
  });

  it('honours AbortSignal before the request, while waiting for the head and while reading the body', async () => {
    const before = new AbortController();
    before.abort(new Error('stopped early'));
    await expect(
      transport.fetch('http://api.example.com/', { signal: before.signal }),
    ).rejects.toThrow('stopped early');

    const waiting = new AbortController();
    const pending = transport.fetch('http://api.example.com/never', {
      signal: waiting.signal,
    });
    setImmediate(() => waiting.abort());
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });

    const reading = new AbortController();
    const res = await transport.fetch('http://api.example.com/half', {
      signal: reading.signal,
    });
    const text = res.text();
    reading.abort(new Error('cancelled mid-body'));
    await expect(text).rejects.toThrow('cancelled mid-body');
  });

  it('parses both forms of AGENT_EGRESS_PROXY', () => {
    expect(parseProxyAddress('unix:/run/egress.sock')).toEqual({
      socketPath: '/run/egress.sock',
    });
    expect(
      parseProxyAddress('http://agent-egress.agent-platform.svc:3128'),
    ).toEqual({
      host: 'agent-egress.agent-platform.svc',
      port: 3128,
    });
    expect(() => parseProxyAddress('unix:relative.sock')).toThrow(
      /must be absolute/,
    );
  });

  describe('in the runtime', () => {
    it('routes the http, llm and catalog tools through the proxy; refusals are tool-denied; the credential is never printed', async () => {
      const dirOfAgent = writeAgent({
        'index.js': `module.exports = { async handler(input, ctx) {
          console.log('credential is', process.env.AGENT_EGRESS_CREDENTIAL);
          const ok = await ctx.tools.http.getJson('https://api.example.com/data');
          let refused;
          try { await ctx.tools.http.fetch('https://refused.example.com/'); } catch (e) { refused = e.name + ': ' + e.message; }
          const answer = await ctx.tools.llm.chat({ messages: [{ role: 'user', content: 'hi' }] });
          const group = await ctx.tools.catalog.getEntityByRef('group:default/team');
          return { ok: ok.url, refused, llm: answer.url, catalog: group.url };
        } };`,
      });
      const run = await runRuntime(dirOfAgent, {
        env: {
          AGENT_TOOLS: JSON.stringify([
            {
              name: 'http',
              allowHosts: ['api.example.com', 'refused.example.com'],
            },
            { name: 'llm' },
            { name: 'catalog' },
          ]),
          AGENT_EGRESS_PROXY: proxy.address,
          AGENT_EGRESS_CREDENTIAL: CREDENTIAL,
          AGENT_LLM_BASE_URL: 'http://llm.platform.internal/v1',
          AGENT_CATALOG_BASE_URL: 'http://catalog.platform.internal',
        },
      });
      expect(lastEvent(run)).toMatchObject({
        type: 'result',
        result: {
          ok: 'https://api.example.com/data',
          refused: expect.stringMatching(
            /^ToolDeniedError: http: egress proxy refused the request \(private-address\): "refused.example.com" resolves to 10.0.0.1/,
          ),
          llm: 'http://llm.platform.internal/v1/chat/completions',
          catalog:
            'http://catalog.platform.internal/entities/by-name/group/default/team',
        },
      });
      expect(eventsOf(run, 'tool-denied')).toEqual([
        expect.objectContaining({
          tool: 'http',
          message: expect.stringContaining('(private-address)'),
        }),
      ]);
      // The catalog's token is the proxy's business: the runtime sends none.
      const catalogRequest = proxy.seen.find(s =>
        s.url.startsWith('http://catalog.platform.internal'),
      )!;
      expect(catalogRequest.headers.authorization).toBeUndefined();
      expect(
        proxy.seen.every(
          s => s.headers['proxy-authorization'] === `Bearer ${CREDENTIAL}`,
        ),
      ).toBe(true);
      expect(run.stdout).not.toContain(CREDENTIAL);
      expect(eventsOf(run, 'log')[0].message).toBe('credential is [REDACTED]');
    });
  });
});
