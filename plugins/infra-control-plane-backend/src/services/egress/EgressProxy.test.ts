import http from 'node:http';
import tls from 'node:tls';
import {
  UPSTREAM_IP,
  connectVia,
  requestOver,
  startHttpServer,
  viaProxy,
} from './__testUtils__/servers';
import { useProxyFixture } from './__testUtils__/proxyFixture';

jest.setTimeout(30_000);

describe('EgressProxy: forwarding and tunnels', () => {
  const f = useProxyFixture();

  describe('absolute-form requests', () => {
    it('forwards an allowed http request to the checked address, without hop-by-hop headers or the credential', async () => {
      const res = await viaProxy(
        { port: f.tcp.port },
        f.credential,
        `http://plain.test:${f.plain.port}/hello?x=1`,
        {
          headers: { connection: 'x-hop', 'x-hop': 'secret', 'x-keep': 'yes' },
        },
      );
      expect(res.status).toBe(200);
      const seen = JSON.parse(res.body);
      expect(seen.url).toBe('/hello?x=1');
      expect(seen.headers).toMatchObject({
        host: `plain.test:${f.plain.port}`,
        'x-keep': 'yes',
      });
      expect(seen.headers['proxy-authorization']).toBeUndefined();
      expect(seen.headers['x-hop']).toBeUndefined();
      expect(f.plain.requests[0].localAddress).toBe(UPSTREAM_IP);
      // The upstream's headers come back, all of them, but never the proxy's own markers.
      expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(res.headers['x-agentplatform-egress-refused']).toBeUndefined();
      expect(f.log.decisions).toEqual([
        {
          executionId: 'exec-1',
          allowed: true,
          method: 'GET',
          host: 'plain.test',
          port: f.plain.port,
          address: UPSTREAM_IP,
        },
      ]);
    });

    it('forwards request bodies', async () => {
      const res = await viaProxy(
        { port: f.tcp.port },
        f.credential,
        `http://plain.test:${f.plain.port}/post`,
        {
          method: 'POST',
          headers: { 'content-type': 'text/plain' },
          body: 'hello upstream',
        },
      );
      expect(JSON.parse(res.body).body).toBe('hello upstream');
    });

    it('streams both bodies: the upstream answers the first request chunk before the second is sent', async () => {
      const duplex = await startHttpServer({
        handler: (req, res) => {
          req.once('data', () => {
            res.writeHead(200);
            res.write('pong1;');
            req.on('end', () => res.end('pong2'));
            req.resume();
          });
        },
      });
      const streamingCredential = f.proxy.issueCredential({
        executionId: 'exec-1',
        allowHosts: [UPSTREAM_IP],
        ports: [duplex.port],
        expiresAt: Date.now() + 60_000,
      });
      try {
        const body = await new Promise<string>((resolve, reject) => {
          const req = http.request({
            host: '127.0.0.1',
            port: f.tcp.port,
            method: 'POST',
            path: `http://${UPSTREAM_IP}:${duplex.port}/duplex`,
            headers: {
              'proxy-authorization': `Bearer ${streamingCredential}`,
              'x-test-stream': '1',
            },
          });
          req.on('response', res => {
            let text = '';
            res.on('data', chunk => {
              text += chunk;
              if (text === 'pong1;') req.end('ping2');
            });
            res.on('end', () => resolve(text));
          });
          req.on('error', reject);
          req.write('ping1');
        });
        expect(body).toBe('pong1;pong2');
      } finally {
        await duplex.close();
      }
    });

    it('originates TLS itself for https:// targets, checking the certificate against the name', async () => {
      const res = await viaProxy(
        { port: f.tcp.port },
        f.credential,
        `https://secure.test:${f.secure.port}/s`,
      );
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body).headers.host).toBe(
        `secure.test:${f.secure.port}`,
      );
      expect(f.secure.requests[0].localAddress).toBe(UPSTREAM_IP);

      const mismatch = await viaProxy(
        { port: f.tcp.port },
        f.credential,
        `https://wrong-cert.test:${f.secure.port}/s`,
      );
      expect(mismatch.status).toBe(502);
      expect(mismatch.headers['x-agentplatform-egress-error']).toBe(
        'upstream-connect-failed',
      );
      expect(mismatch.body).toMatch(/wrong-cert\.test/);
    });

    it('passes redirects to the client, which finds the next hop checked again', async () => {
      const first = await viaProxy(
        { port: f.tcp.port },
        f.credential,
        `http://plain.test:${f.plain.port}/redirect`,
      );
      expect(first.status).toBe(302);
      expect(first.headers.location).toBe(
        `http://localhost:${f.plain.port}/admin`,
      );
      expect(f.plain.requests.map(r => r.url)).toEqual(['/redirect']);
      const next = await viaProxy(
        { port: f.tcp.port },
        f.credential,
        first.headers.location!,
      );
      expect(next.status).toBe(403);
      expect(next.headers['x-agentplatform-egress-refused']).toBe(
        'private-address',
      );
      expect(f.log.decisions.map(d => [d.host, d.allowed, d.reason])).toEqual([
        ['plain.test', true, undefined],
        ['localhost', false, 'private-address'],
      ]);
    });

    it('answers 502 with a message when the upstream cannot be reached', async () => {
      const res = await viaProxy(
        { port: f.tcp.port },
        f.credential,
        `http://closed.test:${f.closedPort}/`,
      );
      expect(res.status).toBe(502);
      expect(res.headers['x-agentplatform-egress-error']).toBe(
        'upstream-connect-failed',
      );
      expect(res.body).toMatch(/ECONNREFUSED/);
    });
  });

  describe('CONNECT tunnels', () => {
    it('tunnels to an allowed host:port, also TLS end to end', async () => {
      const tunnel = await connectVia(
        { port: f.tcp.port },
        f.credential,
        `plain.test:${f.plain.port}`,
      );
      expect(tunnel.status).toBe(200);
      const res = await requestOver(
        tunnel.socket,
        'plain.test',
        '/through-tunnel',
      );
      expect(JSON.parse(res.body).url).toBe('/through-tunnel');

      const tlsTunnel = await connectVia(
        { port: f.tcp.port },
        f.credential,
        `secure.test:${f.secure.port}`,
      );
      const secured = tls.connect({
        socket: tlsTunnel.socket,
        servername: 'secure.test',
        ca: f.cert.cert,
      });
      const res2 = await requestOver(secured, 'secure.test', '/tls-in-tunnel');
      expect(res2.status).toBe(200);
      expect(
        f.log.decisions.map(d => [d.method, d.host, d.allowed, d.address]),
      ).toEqual([
        ['CONNECT', 'plain.test', true, UPSTREAM_IP],
        ['CONNECT', 'secure.test', true, UPSTREAM_IP],
      ]);
    });

    it('refuses hosts and ports outside the grant', async () => {
      const host = await connectVia(
        { port: f.tcp.port },
        f.credential,
        'example.com:443',
      );
      expect(host.status).toBe(403);
      expect(host.headers['x-agentplatform-egress-refused']).toBe(
        'host-not-allowed',
      );
      expect(host.body).toMatch(
        /"example.com" is not in the allow-list of execution exec-1/,
      );
      const port = await connectVia(
        { port: f.tcp.port },
        f.credential,
        'plain.test:22',
      );
      expect(port.status).toBe(403);
      expect(port.headers['x-agentplatform-egress-refused']).toBe(
        'port-not-allowed',
      );
    });
  });
});
