import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { EgressDecision } from '../types';

/** Address the test upstreams listen on: loopback, allowed through `allowPrivateCidrs`. */
export const UPSTREAM_IP = '127.0.0.2';

export interface TestServer {
  port: number;
  /** Requests seen: method, url, headers, body, the local address they came in on. */
  requests: Array<{
    method: string;
    url: string;
    headers: http.IncomingHttpHeaders;
    body: string;
    localAddress: string;
  }>;
  close(): Promise<void>;
}

type Handler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  body: string,
) => void;

const echo: Handler = (req, res, body) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      method: req.method,
      url: req.url,
      headers: req.headers,
      body,
    }),
  );
};

async function serve(
  server: http.Server,
  host: string,
  port: number,
  handler: Handler,
): Promise<TestServer> {
  const requests: TestServer['requests'] = [];
  const sockets = new Set<net.Socket>();
  server.on('connection', s => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', s => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('request', (req, res) => {
    // Streaming handlers read the body themselves.
    if (req.headers['x-test-stream']) {
      requests.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: '',
        localAddress: req.socket.localAddress!,
      });
      handler(req, res, '');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body,
        localAddress: req.socket.localAddress!,
      });
      handler(req, res, body);
    });
  });
  await new Promise<void>(resolve => server.listen(port, host, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>(resolve => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

export function startHttpServer(
  options: { host?: string; port?: number; handler?: Handler } = {},
): Promise<TestServer> {
  return serve(
    http.createServer(),
    options.host ?? UPSTREAM_IP,
    options.port ?? 0,
    options.handler ?? echo,
  );
}

export function startHttpsServer(
  cert: TestCert,
  options: { host?: string; port?: number; handler?: Handler } = {},
): Promise<TestServer> {
  return serve(
    https.createServer({
      key: cert.key,
      cert: cert.cert,
    }) as unknown as http.Server,
    options.host ?? UPSTREAM_IP,
    options.port ?? 0,
    options.handler ?? echo,
  );
}

export interface TestCert {
  key: string;
  cert: string;
}

/** A self-signed certificate for `names` (DNS names), made with openssl. */
export function makeCert(names: string[]): TestCert {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egress-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
        '-days',
        '2',
        '-subj',
        `/CN=${names[0]}`,
        '-addext',
        `subjectAltName=${names.map(n => `DNS:${n}`).join(',')}`,
      ],
      { stdio: 'pipe' },
    );
    return {
      key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'),
      cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** How a test reaches the proxy. */
export type ProxyAddress = { port: number } | { socketPath: string };

function connectOptions(proxy: ProxyAddress) {
  return 'socketPath' in proxy
    ? { socketPath: proxy.socketPath }
    : { host: '127.0.0.1', port: proxy.port };
}

export interface ProxyResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An absolute-form request through the proxy (what the runtime sends). */
export function viaProxy(
  proxy: ProxyAddress,
  credential: string | undefined,
  url: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
  } = {},
): Promise<ProxyResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        ...connectOptions(proxy),
        method: init.method ?? 'GET',
        path: url,
        agent: false,
        headers: {
          host: URL.canParse(url) ? new URL(url).host : 'proxy',
          ...(credential
            ? { 'proxy-authorization': `Bearer ${credential}` }
            : {}),
          ...init.headers,
        },
      },
      res => {
        const chunks: Buffer[] = [];
        res.on('data', c => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** A CONNECT through the proxy: its answer and, when 200, the tunnel socket. */
export function connectVia(
  proxy: ProxyAddress,
  credential: string | undefined,
  target: string,
): Promise<{
  status: number;
  headers: http.IncomingHttpHeaders;
  socket: net.Socket;
  body: string;
}> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      ...connectOptions(proxy),
      method: 'CONNECT',
      path: target,
      agent: false,
      headers: {
        host: target,
        ...(credential
          ? { 'proxy-authorization': `Bearer ${credential}` }
          : {}),
      },
    });
    req.on('connect', (res, socket, head) => {
      if (res.statusCode === 200) {
        resolve({ status: 200, headers: res.headers, socket, body: '' });
        return;
      }
      // A refusal: its body follows the head on the socket, which then closes.
      const chunks: Buffer[] = [head];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('close', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          socket,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('response', res => {
      const chunks: Buffer[] = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          socket: res.socket as net.Socket,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends one HTTP/1.1 request over an open socket (a tunnel) and reads the answer. */
export function requestOver(
  socket: net.Socket | tls.TLSSocket,
  host: string,
  requestPath = '/',
): Promise<ProxyResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      createConnection: () => socket,
      host,
      path: requestPath,
      headers: { host, connection: 'close' },
    });
    req.on('response', res => {
      const chunks: Buffer[] = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** Collects the proxy's decisions. */
export function decisionLog() {
  const decisions: EgressDecision[] = [];
  return { decisions, onDecision: (d: EgressDecision) => decisions.push(d) };
}

/** A lookup that answers from a table (and records the names asked). */
export function tableLookup(
  table: Record<string, string[] | (() => string[])>,
) {
  const asked: string[] = [];
  const lookup = async (hostname: string) => {
    asked.push(hostname);
    const entry = table[hostname];
    const addresses = typeof entry === 'function' ? entry() : entry;
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
        code: 'ENOTFOUND',
      });
    return addresses.map(address => ({ address, family: net.isIP(address) }));
  };
  return { lookup, asked };
}
