import dns from 'node:dns';
import { randomBytes } from 'node:crypto';
import { EgressProxy } from '../EgressProxy';
import {
  TestCert,
  TestServer,
  UPSTREAM_IP,
  decisionLog,
  makeCert,
  startHttpServer,
  startHttpsServer,
  tableLookup,
} from './servers';

/** What the proxy tests share, filled in by `beforeAll`. */
export interface ProxyFixture {
  log: ReturnType<typeof decisionLog>;
  names: ReturnType<typeof tableLookup>;
  cert: TestCert;
  /** http on UPSTREAM_IP; `/redirect` answers 302 to http://localhost:<port>/admin. */
  plain: TestServer;
  /** https on UPSTREAM_IP with a certificate for secure.test. */
  secure: TestServer;
  /** http on 127.0.0.3, same port as `plain`: where a rebound name would lead. */
  rebound: TestServer;
  /** A port nothing listens on. */
  closedPort: number;
  proxy: EgressProxy;
  tcp: { port: number; close(): Promise<void> };
  /** exec-1: the test names and localhost, on the ports of plain, secure and closedPort. */
  credential: string;
  /** Successive answers for rebind.test (then 127.0.0.3). */
  rebindAnswers: string[][];
}

/**
 * Registers the hooks that start a proxy on TCP with upstreams on loopback
 * (UPSTREAM_IP allowed through allowPrivateCidrs) and a lookup that answers
 * the `.test` names from a table, anything else (localhost) from the system.
 */
export function useProxyFixture(): ProxyFixture {
  const f = { rebindAnswers: [] } as unknown as ProxyFixture;
  f.log = decisionLog();
  f.names = tableLookup({
    'plain.test': [UPSTREAM_IP],
    'secure.test': [UPSTREAM_IP],
    'wrong-cert.test': [UPSTREAM_IP],
    'closed.test': [UPSTREAM_IP],
    'mixed.test': ['93.184.216.34', '127.0.0.1'],
    'rebind.test': () => f.rebindAnswers.shift() ?? ['127.0.0.3'],
  });
  const lookup = async (hostname: string, options: { all: true }) =>
    hostname.endsWith('.test')
      ? f.names.lookup(hostname)
      : dns.promises.lookup(hostname, options);

  beforeAll(async () => {
    f.cert = makeCert(['secure.test']);
    f.plain = await startHttpServer({
      handler: (req, res, body) => {
        if (req.url === '/redirect') {
          res.writeHead(302, {
            location: `http://localhost:${f.plain.port}/admin`,
          });
          res.end();
          return;
        }
        res.writeHead(200, {
          'content-type': 'application/json',
          'set-cookie': ['a=1', 'b=2'],
          'x-agentplatform-egress-refused': 'forged-by-upstream',
        });
        res.end(JSON.stringify({ url: req.url, headers: req.headers, body }));
      },
    });
    f.secure = await startHttpsServer(f.cert);
    f.rebound = await startHttpServer({
      host: '127.0.0.3',
      port: f.plain.port,
    });
    const spare = await startHttpServer();
    f.closedPort = spare.port;
    await spare.close();
    f.proxy = new EgressProxy({
      key: randomBytes(32),
      lookup,
      allowPrivateCidrs: [`${UPSTREAM_IP}/32`],
      upstreamCa: f.cert.cert,
      onDecision: f.log.onDecision,
    });
    f.tcp = await f.proxy.listenTcp(0, '127.0.0.1');
    f.credential = f.proxy.issueCredential({
      executionId: 'exec-1',
      allowHosts: [
        'plain.test',
        'secure.test',
        'wrong-cert.test',
        'closed.test',
        'mixed.test',
        'rebind.test',
        'localhost',
      ],
      ports: [f.plain.port, f.secure.port, f.closedPort],
      expiresAt: Date.now() + 60_000,
    });
  });

  afterAll(async () => {
    await f.proxy.close();
    await Promise.all([f.plain, f.secure, f.rebound].map(s => s.close()));
  });

  beforeEach(() => {
    f.log.decisions.length = 0;
    f.plain.requests.length = 0;
    f.secure.requests.length = 0;
    f.rebound.requests.length = 0;
  });

  return f;
}
