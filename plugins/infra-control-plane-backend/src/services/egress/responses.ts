import http from 'node:http';
import type { Duplex } from 'node:stream';
import { EgressRefusalReason } from './types';

/** Header naming why the proxy refused a request (403, 407, 400). @public */
export const REFUSED_HEADER = 'x-agentplatform-egress-refused';
/** Header naming why the proxy could not carry out an allowed request (502, 504). @public */
export const ERROR_HEADER = 'x-agentplatform-egress-error';

/** Problems of the proxy's own (not the upstream's) answered with a 5xx. */
export type EgressErrorCode =
  | 'resolve-failed'
  | 'upstream-connect-failed'
  | 'upstream-timeout'
  | 'upstream-failed';

/** The status a refusal answers with: 407 for credentials, 400 for malformed requests, else 403. */
export function refusalStatus(reason: EgressRefusalReason): number {
  if (
    reason === 'bad-credential' ||
    reason === 'credential-expired' ||
    reason === 'credential-not-for-this-socket'
  ) {
    return 407;
  }
  return reason === 'bad-request' ? 400 : 403;
}

/** What the proxy itself answers: status, headers and a plain-text body. */
export interface ProxyAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function refusalAnswer(
  reason: EgressRefusalReason,
  message: string,
): ProxyAnswer {
  const status = refusalStatus(reason);
  const headers: Record<string, string> = { [REFUSED_HEADER]: reason };
  if (status === 407)
    headers['proxy-authenticate'] = 'Bearer realm="agent-platform-egress"';
  return {
    status,
    headers,
    body: `egress proxy refused the request (${reason}): ${message}\n`,
  };
}

export function errorAnswer(
  code: EgressErrorCode,
  message: string,
): ProxyAnswer {
  const status = code === 'upstream-timeout' ? 504 : 502;
  return {
    status,
    headers: { [ERROR_HEADER]: code },
    body: `egress proxy could not reach the destination (${code}): ${message}\n`,
  };
}

/** Sends an answer on a server response (absolute-form requests). */
export function sendAnswer(res: http.ServerResponse, answer: ProxyAnswer) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(answer.status, {
    ...answer.headers,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(answer.body)),
    connection: 'close',
  });
  res.end(answer.body);
}

/** Writes an answer on a raw socket (CONNECT, client errors) and closes it. */
export function writeRawAnswer(socket: Duplex, answer: ProxyAnswer) {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const head = [
    `HTTP/1.1 ${answer.status} ${http.STATUS_CODES[answer.status] ?? ''}`,
    ...Object.entries(answer.headers).map(([k, v]) => `${k}: ${v}`),
    'content-type: text/plain; charset=utf-8',
    `content-length: ${Buffer.byteLength(answer.body)}`,
    'connection: close',
  ].join('\r\n');
  socket.end(`${head}\r\n\r\n${answer.body}`);
}
