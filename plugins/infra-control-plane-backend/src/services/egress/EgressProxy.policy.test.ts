import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { EgressProxy } from './EgressProxy';
import {
  UPSTREAM_IP,
  connectVia,
  requestOver,
  viaProxy,
} from './__testUtils__/servers';
import { useProxyFixture } from './__testUtils__/proxyFixture';

jest.setTimeout(30_000);

describe('EgressProxy: addresses, credentials and bad input', () => {
  const f = useProxyFixture();

  describe('the address check', () => {
    it('refuses a name that resolves to loopback (localhost), both forms, naming the address', async () => {
      const res = await viaProxy(
        { port: f.tcp.port },
        f.credential,
        `http://localhost:${f.plain.port}/`,
      );
      expect(res.status).toBe(403);
      expect(res.headers['x-agentplatform-egress-refused']).toBe(
        'private-address',
      );
      expect(res.body).toMatch(
        /"localhost" resolves to (127\.0\.0\.1|::1) \(loopback\)/,
      );
      const tunnel = await connectVia(
        { port: f.tcp.port },
        f.credential,
        `localhost:${f.plain.port}`,
      );
      expect(tunnel.status).toBe(403);
      expect(f.log.decisions).toEqual([
        expect.objectContaining({
          allowed: false,
          reason: 'private-address',
          address: expect.stringMatching(/^(127\.0\.0\.1|::1)$/),
        }),
        expect.objectContaining({
          method: 'CONNECT',
          allowed: false,
          reason: 'private-address',
        }),
      ]);
    });

    it('refuses a name with one private answer among public ones', async () => {
      const res = await viaProxy(
        { port: f.tcp.port },
        f.credential,
        `http://mixed.test:${f.plain.port}/`,
      );
      expect(res.status).toBe(403);
      expect(f.log.decisions[0]).toMatchObject({
        reason: 'private-address',
        address: '127.0.0.1',
      });
    });

    it('connects to the address it checked: a name f.rebound after the check does not lead elsewhere', async () => {
      f.rebindAnswers = [[UPSTREAM_IP]];
      const asked = f.names.asked.length;
      const first = await viaProxy(
        { port: f.tcp.port },
        f.credential,
        `http://rebind.test:${f.plain.port}/first`,
      );
      expect(first.status).toBe(200);
      expect(f.plain.requests.map(r => [r.url, r.localAddress])).toEqual([
        ['/first', UPSTREAM_IP],
      ]);
      // The next resolution answers 127.0.0.3 (a server listens there): the next request is checked anew.
      const second = await viaProxy(
        { port: f.tcp.port },
        f.credential,
        `http://rebind.test:${f.plain.port}/second`,
      );
      expect(second.status).toBe(403);
      expect(f.rebound.requests).toEqual([]);
      expect(f.names.asked.slice(asked)).toEqual([
        'rebind.test',
        'rebind.test',
      ]); // once per request, never again to connect
      expect(f.log.decisions.map(d => [d.allowed, d.address])).toEqual([
        [true, UPSTREAM_IP],
        [false, '127.0.0.3'],
      ]);
    });

    it('opens a tunnel to exactly the public address it checked, not to what the name resolves to later', async () => {
      f.rebindAnswers = [['93.184.216.34']];
      const realConnect = net.connect;
      const targets: unknown[] = [];
      // Record the connect target, then reach the local upstream instead (no internet here).
      const spy = jest.spyOn(net, 'connect').mockImplementation(((
        options: net.NetConnectOpts,
      ) => {
        targets.push(options);
        return realConnect({
          ...(options as net.TcpNetConnectOpts),
          host: UPSTREAM_IP,
        });
      }) as any);
      try {
        const tunnel = await connectVia(
          { port: f.tcp.port },
          f.credential,
          `rebind.test:${f.plain.port}`,
        );
        expect(tunnel.status).toBe(200);
        const res = await requestOver(
          tunnel.socket,
          'rebind.test',
          '/tunnelled',
        );
        expect(res.status).toBe(200);
      } finally {
        spy.mockRestore();
      }
      expect(targets).toEqual([{ host: '93.184.216.34', port: f.plain.port }]);
      expect(f.log.decisions).toEqual([
        {
          executionId: 'exec-1',
          allowed: true,
          method: 'CONNECT',
          host: 'rebind.test',
          port: f.plain.port,
          address: '93.184.216.34',
        },
      ]);
    });
  });

  describe('credentials and bad input', () => {
    it('answers 407 without, with a forged and with an expired credential', async () => {
      const url = `http://plain.test:${f.plain.port}/`;
      const none = await viaProxy({ port: f.tcp.port }, undefined, url);
      expect(none.status).toBe(407);
      expect(none.headers['proxy-authenticate']).toMatch(/^Bearer/);
      expect(none.headers['x-agentplatform-egress-refused']).toBe(
        'bad-credential',
      );
      const other = new EgressProxy({ key: randomBytes(32) }).issueCredential({
        executionId: 'exec-1',
        allowHosts: ['plain.test'],
        expiresAt: Date.now() + 60_000,
      });
      expect((await viaProxy({ port: f.tcp.port }, other, url)).status).toBe(
        407,
      );
      const expired = f.proxy.issueCredential({
        executionId: 'exec-1',
        allowHosts: ['plain.test'],
        expiresAt: Date.now() - 1,
      });
      const late = await viaProxy({ port: f.tcp.port }, expired, url);
      expect(late.status).toBe(407);
      expect(late.headers['x-agentplatform-egress-refused']).toBe(
        'credential-expired',
      );
      const tunnel = await connectVia(
        { port: f.tcp.port },
        'garbage',
        `plain.test:${f.plain.port}`,
      );
      expect(tunnel.status).toBe(407);
      expect(f.plain.requests).toEqual([]);
      expect(
        f.log.decisions.map(d => [d.executionId, d.allowed, d.reason]),
      ).toEqual([
        [undefined, false, 'bad-credential'],
        [undefined, false, 'bad-credential'],
        [undefined, false, 'credential-expired'],
        [undefined, false, 'bad-credential'],
      ]);
    });

    it('answers 400, never 5xx, to requests that are not f.proxy requests or not HTTP', async () => {
      const origin = await viaProxy(
        { port: f.tcp.port },
        f.credential,
        '/not-absolute',
      );
      expect(origin.status).toBe(400);
      expect(origin.body).toMatch(/send an absolute-form request/);
      const badConnect = await connectVia(
        { port: f.tcp.port },
        f.credential,
        'no-port.test',
      );
      expect(badConnect.status).toBe(400);
      const raw = await new Promise<string>(resolve => {
        const s = net.connect(f.tcp.port, '127.0.0.1', () =>
          s.write('NOT A REQUEST\r\n\r\n'),
        );
        let text = '';
        s.on('data', d => (text += d));
        s.on('close', () => resolve(text));
      });
      expect(raw).toMatch(/^HTTP\/1\.1 400/);
    });
  });
});
