import net from 'node:net';
import type { Duplex } from 'node:stream';
import { errorAnswer, writeRawAnswer } from './responses';

/**
 * Opens the TCP tunnel of an allowed CONNECT: connects to the checked
 * address, answers 200 and then copies bytes both ways until either side
 * closes. Answers 502/504 when the connection cannot be made.
 */
export function openTunnel(
  client: Duplex,
  head: Buffer,
  target: { address: string; port: number; host: string },
  connectTimeoutMs: number,
) {
  const upstream = net.connect({ host: target.address, port: target.port });
  let connected = false;
  const timer = setTimeout(() => {
    const error: any = new Error(
      `connecting to ${target.host}:${target.port} took longer than ${connectTimeoutMs} ms`,
    );
    error.code = 'EGRESS_CONNECT_TIMEOUT';
    upstream.destroy(error);
  }, connectTimeoutMs);

  upstream.once('connect', () => {
    connected = true;
    clearTimeout(timer);
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', (error: any) => {
    clearTimeout(timer);
    if (connected) {
      client.destroy();
      return;
    }
    writeRawAnswer(
      client,
      errorAnswer(
        error?.code === 'EGRESS_CONNECT_TIMEOUT'
          ? 'upstream-timeout'
          : 'upstream-connect-failed',
        `${target.host}:${target.port}: ${String(error?.message ?? error).slice(
          0,
          300,
        )}`,
      ),
    );
  });
  // A clean end reaches the client through the pipe (flushed, then ended).
  upstream.on('close', () => clearTimeout(timer));
  client.on('error', () => upstream.destroy());
  client.on('close', () => upstream.destroy());
}
