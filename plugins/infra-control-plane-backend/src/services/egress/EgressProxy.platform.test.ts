import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EgressProxy } from './EgressProxy';
import {
  TestServer,
  UPSTREAM_IP,
  connectVia,
  decisionLog,
  requestOver,
  startHttpServer,
  tableLookup,
  viaProxy,
} from './__testUtils__/servers';

jest.setTimeout(30_000);

describe('EgressProxy platform routes and Unix sockets', () => {
  const log = decisionLog();
  let catalog: TestServer;
  let plain: TestServer;
  let proxy: EgressProxy;
  let dir: string;
  let socketPath: string;
  let cred1: string;
  let cred2: string;
  const tokenCalls: string[] = [];

  beforeAll(async () => {
    // The platform target is operator-configured: loopback is fine there, no allowPrivateCidrs needed.
    catalog = await startHttpServer({ host: '127.0.0.1' });
    plain = await startHttpServer();
    proxy = new EgressProxy({
      key: randomBytes(32),
      lookup: tableLookup({ 'plain.test': [UPSTREAM_IP] }).lookup,
      allowPrivateCidrs: [`${UPSTREAM_IP}/32`],
      onDecision: log.onDecision,
      platformRoutes: {
        catalog: {
          target: `http://127.0.0.1:${catalog.port}/api/catalog`,
          methods: ['GET'],
          headers: async executionId => {
            tokenCalls.push(executionId);
            return { authorization: `Bearer service-token-for-${executionId}` };
          },
        },
        broken: {
          target: `http://127.0.0.1:${catalog.port}/broken`,
          methods: ['GET'],
          headers: () => {
            throw new Error('token service down');
          },
        },
      },
    });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egress-run-'));
    socketPath = path.join(dir, 'egress.sock');
    // Closed with the proxy in afterAll.
    await proxy.listenUnix(socketPath, { executionId: 'exec-1' });
    const grant = {
      allowHosts: ['plain.test'],
      ports: [plain.port],
      expiresAt: Date.now() + 60_000,
      platform: ['catalog', 'broken'],
    };
    cred1 = proxy.issueCredential({ ...grant, executionId: 'exec-1' });
    cred2 = proxy.issueCredential({ ...grant, executionId: 'exec-2' });
  });

  afterAll(async () => {
    await proxy.close();
    await Promise.all([catalog.close(), plain.close()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    log.decisions.length = 0;
    catalog.requests.length = 0;
    tokenCalls.length = 0;
  });

  describe('a run’s Unix socket', () => {
    it('is a socket anyone who can reach its folder may connect to (0666)', () => {
      const stat = fs.statSync(socketPath);
      expect(stat.isSocket()).toBe(true);
      expect(stat.mode & 0o777).toBe(0o666);
    });

    it('serves its run and refuses the credential of another run', async () => {
      const url = `http://plain.test:${plain.port}/x`;
      expect((await viaProxy({ socketPath }, cred1, url)).status).toBe(200);
      const other = await viaProxy({ socketPath }, cred2, url);
      expect(other.status).toBe(407);
      expect(other.headers['x-agentplatform-egress-refused']).toBe(
        'credential-not-for-this-socket',
      );
      expect(
        log.decisions.map(d => [d.executionId, d.allowed, d.reason]),
      ).toEqual([
        ['exec-1', true, undefined],
        ['exec-1', false, 'credential-not-for-this-socket'],
      ]);
    });

    it('closes cleanly: open tunnels are destroyed and the socket file removed', async () => {
      const own = path.join(dir, 'closing.sock');
      const closing = await proxy.listenUnix(own);
      const tunnel = await connectVia(
        { socketPath: own },
        cred2,
        `plain.test:${plain.port}`,
      );
      expect(tunnel.status).toBe(200);
      expect(
        (await requestOver(tunnel.socket, 'plain.test', '/keep')).status,
      ).toBe(200);
      const again = await connectVia(
        { socketPath: own },
        cred2,
        `plain.test:${plain.port}`,
      );
      const closed = new Promise(resolve => again.socket.on('close', resolve));
      await closing.close();
      await closed;
      expect(fs.existsSync(own)).toBe(false);
      await expect(
        viaProxy(
          { socketPath: own },
          cred2,
          `http://plain.test:${plain.port}/`,
        ),
      ).rejects.toMatchObject({
        code: 'ENOENT',
      });
    });

    it('replaces a stale socket file but never another kind of file', async () => {
      const stale = path.join(dir, 'stale.sock');
      // A process killed while listening leaves its socket file behind.
      spawnSync(process.execPath, [
        '-e',
        `require('node:net').createServer().listen(${JSON.stringify(
          stale,
        )}, () => process.kill(process.pid, 'SIGKILL'))`,
      ]);
      expect(fs.lstatSync(stale).isSocket()).toBe(true);
      const replaced = await proxy.listenUnix(stale);
      expect(
        (
          await viaProxy(
            { socketPath: stale },
            cred1,
            `http://plain.test:${plain.port}/`,
          )
        ).status,
      ).toBe(200);
      await replaced.close();
      const file = path.join(dir, 'regular-file');
      fs.writeFileSync(file, 'keep me');
      await expect(proxy.listenUnix(file)).rejects.toThrow(
        /exists and is not a socket/,
      );
      expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
    });
  });

  describe('platform routes', () => {
    it('forwards to the target below its base path, with the route’s headers and without the credential', async () => {
      const res = await viaProxy(
        { socketPath },
        cred1,
        'http://catalog.platform.internal/entities/by-query?filter=kind%3DAgent',
        { headers: { authorization: 'Bearer chosen-by-the-agent' } },
      );
      expect(res.status).toBe(200);
      const seen = JSON.parse(res.body);
      expect(seen.url).toBe(
        '/api/catalog/entities/by-query?filter=kind%3DAgent',
      );
      expect(seen.headers.authorization).toBe(
        'Bearer service-token-for-exec-1',
      );
      expect(seen.headers.host).toBe(`127.0.0.1:${catalog.port}`);
      expect(seen.headers['proxy-authorization']).toBeUndefined();
      expect(tokenCalls).toEqual(['exec-1']);
      expect(log.decisions).toEqual([
        {
          executionId: 'exec-1',
          allowed: true,
          method: 'GET',
          host: 'catalog.platform.internal',
          port: 80,
          route: 'catalog',
        },
      ]);
    });

    it('refuses methods the route does not list', async () => {
      const res = await viaProxy(
        { socketPath },
        cred1,
        'http://catalog.platform.internal/entities',
        {
          method: 'DELETE',
        },
      );
      expect(res.status).toBe(403);
      expect(res.headers['x-agentplatform-egress-refused']).toBe(
        'method-not-allowed',
      );
      expect(catalog.requests).toEqual([]);
    });

    it.each(['/../admin', '/entities/%2e%2e/%2e%2e/admin', '/..%2fadmin'])(
      'refuses %s: nothing outside the base path can be reached',
      async rawPath => {
        const res = await viaProxy(
          { socketPath },
          cred1,
          `http://catalog.platform.internal${rawPath}`,
        );
        expect(res.status).toBe(403);
        expect(res.headers['x-agentplatform-egress-refused']).toBe(
          'path-not-allowed',
        );
        expect(catalog.requests).toEqual([]);
        expect(log.decisions).toEqual([
          expect.objectContaining({
            allowed: false,
            reason: 'path-not-allowed',
            route: 'catalog',
          }),
        ]);
      },
    );

    it('refuses a route the run was not granted, and CONNECT to a route', async () => {
      const tcp = await proxy.listenTcp(0, '127.0.0.1');
      try {
        const noRoutes = proxy.issueCredential({
          executionId: 'exec-3',
          allowHosts: [],
          expiresAt: Date.now() + 60_000,
        });
        const res = await viaProxy(
          { port: tcp.port },
          noRoutes,
          'http://catalog.platform.internal/entities',
        );
        expect(res.status).toBe(403);
        expect(res.headers['x-agentplatform-egress-refused']).toBe(
          'platform-route-not-granted',
        );
        expect(res.body).toMatch(
          /platform route "catalog" is not granted to execution exec-3 \(granted: none\)/,
        );
        const tunnel = await connectVia(
          { port: tcp.port },
          cred1,
          'catalog.platform.internal:80',
        );
        expect(tunnel.status).toBe(403);
        expect(tunnel.headers['x-agentplatform-egress-refused']).toBe(
          'platform-route-needs-absolute-form',
        );
        expect(catalog.requests).toEqual([]);
      } finally {
        await tcp.close();
      }
    });

    it('answers 502 when the route’s headers cannot be made, without forwarding', async () => {
      const res = await viaProxy(
        { socketPath },
        cred1,
        'http://broken.platform.internal/x',
      );
      expect(res.status).toBe(502);
      expect(res.headers['x-agentplatform-egress-error']).toBe(
        'upstream-failed',
      );
      expect(res.body).not.toMatch(/token service down/);
      expect(catalog.requests).toEqual([]);
    });
  });

  it('refuses route targets that are not http(s) URLs when built', () => {
    expect(
      () =>
        new EgressProxy({
          key: randomBytes(32),
          platformRoutes: { x: { target: 'file:///etc', methods: ['GET'] } },
        }),
    ).toThrow(/platform route "x": target must be an http\(s\) URL/);
  });
});
