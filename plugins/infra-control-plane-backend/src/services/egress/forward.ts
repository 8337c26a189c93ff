import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { EgressErrorCode, errorAnswer, sendAnswer } from './responses';

/** Headers that belong to one connection, never forwarded (RFC 9110 7.6.1), plus the proxy's own. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * The end-to-end headers of a message (flat `[name, value, ...]` as in
 * `rawHeaders`): without hop-by-hop headers, those the `Connection` header
 * names, and those in `drop`.
 */
export function endToEndHeaders(
  rawHeaders: string[],
  drop: (lowerName: string) => boolean = () => false,
): string[] {
  const named = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === 'connection') {
      for (const token of rawHeaders[i + 1].split(',')) {
        named.add(token.trim().toLowerCase());
      }
    }
  }
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name) || drop(name)) continue;
    out.push(rawHeaders[i], rawHeaders[i + 1]);
  }
  return out;
}

/** Where an allowed request is sent. */
export interface ForwardTarget {
  protocol: 'http:' | 'https:';
  /** What to connect to: the checked IP address (or an operator-configured name). */
  connectTo: string;
  port: number;
  /** The Host header: the name the client asked for. */
  hostHeader: string;
  /** TLS server name (SNI and certificate check): the name, never an IP. */
  servername?: string;
  /** Path and query. */
  path: string;
  /** Set on the forwarded request, replacing the client's headers of the same names. */
  extraHeaders?: Record<string, string>;
}

export interface ForwardOptions {
  ca?: string | Buffer | Array<string | Buffer>;
  connectTimeoutMs: number;
  /** Response headers never passed back (the proxy's own markers). */
  isProxyHeader: (lowerName: string) => boolean;
}

function errorCode(error: any, connected: boolean): EgressErrorCode {
  if (error?.code === 'ETIMEDOUT' || error?.code === 'EGRESS_CONNECT_TIMEOUT') {
    return 'upstream-timeout';
  }
  return connected ? 'upstream-failed' : 'upstream-connect-failed';
}

/**
 * Sends the client's request to the target and streams the answer back:
 * request and response bodies are piped, never buffered; redirects are
 * passed to the client, not followed.
 */
export function forwardRequest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  target: ForwardTarget,
  options: ForwardOptions,
) {
  const extra = target.extraHeaders ?? {};
  const replaced = new Set(Object.keys(extra).map(k => k.toLowerCase()));
  const headers = [
    'Host',
    target.hostHeader,
    ...endToEndHeaders(
      req.rawHeaders,
      name => name === 'host' || replaced.has(name),
    ),
    ...Object.entries(extra).flat(),
  ];
  const common = {
    host: target.connectTo,
    port: target.port,
    method: req.method,
    path: target.path,
    headers,
    setHost: false,
    agent: false as const,
  };
  const upstream =
    target.protocol === 'https:'
      ? https.request({
          ...common,
          servername: target.servername,
          ca: options.ca,
        })
      : http.request(common);

  let connected = false;
  const timer = setTimeout(() => {
    const error: any = new Error(
      `connecting to ${target.hostHeader} took longer than ${options.connectTimeoutMs} ms`,
    );
    error.code = 'EGRESS_CONNECT_TIMEOUT';
    upstream.destroy(error);
  }, options.connectTimeoutMs);
  upstream.on('socket', socket => {
    const done = () => {
      connected = true;
      clearTimeout(timer);
    };
    // For TLS, connected means the handshake (and certificate check) is done.
    const event = target.protocol === 'https:' ? 'secureConnect' : 'connect';
    if (
      target.protocol !== 'https:' &&
      (socket as net.Socket).connecting === false
    )
      done();
    else socket.once(event, done);
  });

  upstream.on('response', upstreamRes => {
    const responseHeaders = endToEndHeaders(
      upstreamRes.rawHeaders,
      options.isProxyHeader,
    );
    res.writeHead(
      upstreamRes.statusCode ?? 502,
      upstreamRes.statusMessage,
      responseHeaders,
    );
    upstreamRes.pipe(res);
    upstreamRes.on('error', () => res.destroy());
  });
  upstream.on('error', error => {
    clearTimeout(timer);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const code = errorCode(error, connected);
    sendAnswer(
      res,
      errorAnswer(
        code,
        `${target.protocol}//${target.hostHeader}: ${String(
          (error as any)?.message ?? error,
        ).slice(0, 300)}`,
      ),
    );
  });
  upstream.on('close', () => clearTimeout(timer));
  // The client went away (or the listener closed): stop the upstream too.
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.on('error', () => upstream.destroy());
  req.pipe(upstream);
}
