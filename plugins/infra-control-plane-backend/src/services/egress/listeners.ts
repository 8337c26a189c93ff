import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { errorAnswer, sendAnswer, writeRawAnswer } from './responses';
import { EgressListener } from './types';

/** What a listener does with the requests it receives. */
export interface ProxyHandlers {
  onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  onConnect(
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<void>;
}

/** Removes a socket file left by a process that died; never a file of another kind. */
async function removeStaleSocket(socketPath: string) {
  try {
    const stat = await fs.promises.lstat(socketPath);
    if (!stat.isSocket()) {
      throw new Error(`${socketPath} exists and is not a socket`);
    }
    await fs.promises.unlink(socketPath);
  } catch (error: any) {
    if (error?.code !== 'ENOENT') throw error;
  }
}

/**
 * An HTTP server for the proxy's handlers, listening once `start` has
 * called `listen`. Closing it destroys every open connection, tunnels too.
 */
async function startServer(
  handlers: ProxyHandlers,
  start: (server: http.Server) => void,
): Promise<{ server: http.Server; close(): Promise<void> }> {
  const server = http.createServer({ requireHostHeader: false });
  const sockets = new Set<Duplex>();
  const track = (socket: Duplex) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  server.on('connection', track);
  server.on('request', (req, res) => {
    handlers
      .onRequest(req, res)
      .catch(error =>
        sendAnswer(
          res,
          errorAnswer('upstream-failed', String(error?.message ?? error)),
        ),
      );
  });
  server.on('connect', (req, socket, head) => {
    track(socket);
    socket.on('error', () => socket.destroy());
    handlers
      .onConnect(req, socket, head)
      .catch(error =>
        writeRawAnswer(
          socket,
          errorAnswer('upstream-failed', String(error?.message ?? error)),
        ),
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
    start(server);
  });
  let closing: Promise<void> | undefined;
  return {
    server,
    close: () => {
      closing ??= new Promise<void>(resolve => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/** Listens on a Unix socket, mode 0666 (its folder decides who may reach it). */
export async function listenUnixSocket(
  socketPath: string,
  handlers: ProxyHandlers,
): Promise<EgressListener> {
  await removeStaleSocket(socketPath);
  const started = await startServer(handlers, server =>
    server.listen(socketPath),
  );
  const close = async () => {
    await started.close();
    await fs.promises.rm(socketPath, { force: true });
  };
  try {
    await fs.promises.chmod(socketPath, 0o666);
  } catch (error) {
    await close();
    throw error;
  }
  return { close };
}

/** Listens on a TCP port (0: any free one, see `port`). */
export async function listenTcpPort(
  port: number,
  host: string | undefined,
  handlers: ProxyHandlers,
): Promise<EgressListener & { port: number }> {
  const started = await startServer(handlers, server =>
    server.listen(port, host),
  );
  return {
    port: (started.server.address() as net.AddressInfo).port,
    close: started.close,
  };
}
