import dns from 'node:dns';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { CidrList } from './addresses';
import {
  EgressCredentials,
  VerifiedGrant,
  credentialFromHeader,
  isRefusal as isCredentialRefusal,
} from './credentials';
import {
  Destination,
  Refusal,
  checkGrant,
  isRefusal,
  parseAbsoluteTarget,
  parseConnectTarget,
  resolveDestination,
} from './destinations';
import { forwardRequest } from './forward';
import { ProxyHandlers, listenTcpPort, listenUnixSocket } from './listeners';
import {
  platformRouteName,
  rawPathOf,
  resolvePlatformRoute,
} from './platformRoutes';
import {
  ERROR_HEADER,
  ProxyAnswer,
  REFUSED_HEADER,
  errorAnswer,
  refusalAnswer,
  sendAnswer,
  writeRawAnswer,
} from './responses';
import { openTunnel } from './tunnel';
import {
  EgressDecision,
  EgressRouteAccessError,
  EgressGrant,
  EgressListener,
  EgressLookup,
  EgressPlatformRoute,
  EgressProxyOptions,
} from './types';

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

const isProxyHeader = (name: string) =>
  name === REFUSED_HEADER || name === ERROR_HEADER;

/**
 * The egress proxy of agent runs: the only way out of a sandboxed run (a
 * Unix socket bound into it) or of a pod granted `http` (a TCP port behind
 * the `agent-egress` Service).
 *
 * Each request carries the run's credential (`Proxy-Authorization: Bearer
 * <credential>`, made by {@link EgressProxy.issueCredential}). The proxy checks the host and
 * port against the grant inside it, resolves the name itself, refuses
 * private, loopback, link-local, metadata... addresses (unless the operator
 * allowed them), and connects to exactly the address it checked. It serves
 * `CONNECT host:port` tunnels and absolute-form requests (`GET
 * http://host/path`, and `GET https://host/path`, for which it makes the TLS
 * connection itself), and platform routes (`http://<name>.platform.internal/...`
 * forwarded to an operator-configured target with added headers). Every
 * decision is reported to `onDecision`.
 *
 * @public
 */
export class EgressProxy {
  private readonly credentials: EgressCredentials;
  private readonly allowPrivate: CidrList;
  private readonly lookup: EgressLookup;
  private readonly routes: Record<string, EgressPlatformRoute>;
  private readonly connectTimeoutMs: number;
  private readonly listeners = new Set<EgressListener>();

  constructor(private readonly options: EgressProxyOptions) {
    this.credentials = new EgressCredentials(options.key, { now: options.now });
    this.allowPrivate = new CidrList(options.allowPrivateCidrs ?? []);
    this.lookup =
      options.lookup ??
      ((hostname, lookupOptions) =>
        dns.promises.lookup(hostname, lookupOptions));
    this.routes = { ...options.platformRoutes };
    for (const [name, route] of Object.entries(this.routes)) {
      let target: URL | undefined;
      try {
        target = new URL(route.target);
      } catch {
        target = undefined;
      }
      if (!target || !/^https?:$/.test(target.protocol)) {
        throw new TypeError(
          `platform route "${name}": target must be an http(s) URL, not "${route.target}"`,
        );
      }
    }
    this.connectTimeoutMs =
      options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  }

  /** A credential for one run: the grant, signed; refused once `expiresAt` has passed. */
  issueCredential(grant: EgressGrant): string {
    return this.credentials.issue(grant);
  }

  /**
   * Listens on a Unix socket (mode 0666: put it in a folder only the run can
   * reach). With `executionId`, the socket serves that run only: a
   * credential of any other run is refused (407). A socket file left behind
   * by a dead process is replaced; any other existing file is an error.
   */
  async listenUnix(
    socketPath: string,
    options: { executionId?: string } = {},
  ): Promise<EgressListener> {
    return this.track(
      await listenUnixSocket(socketPath, this.handlers(options.executionId)),
    );
  }

  /** Listens on a TCP port (3128 behind the `agent-egress` Service); port 0 picks one. */
  async listenTcp(
    port: number,
    host?: string,
  ): Promise<EgressListener & { port: number }> {
    return this.track(
      await listenTcpPort(port, host, this.handlers(undefined)),
    );
  }

  /** Closes every listener of this proxy. */
  async close(): Promise<void> {
    await Promise.all([...this.listeners].map(l => l.close()));
  }

  private track<T extends EgressListener>(listener: T): T {
    const tracked: T = {
      ...listener,
      close: async () => {
        this.listeners.delete(tracked);
        await listener.close();
      },
    };
    this.listeners.add(tracked);
    return tracked;
  }

  private handlers(boundExecutionId: string | undefined): ProxyHandlers {
    return {
      onRequest: (req, res) => this.onRequest(req, res, boundExecutionId),
      onConnect: (req, socket, head) =>
        this.onConnect(req, socket, head, boundExecutionId),
    };
  }

  private report(decision: EgressDecision) {
    try {
      this.options.onDecision?.(decision);
    } catch {
      // a reporting failure never changes the answer
    }
  }

  /** Reports a refusal and returns what to answer. */
  private refuse(
    base: Omit<EgressDecision, 'allowed'>,
    refusal: Refusal,
  ): ProxyAnswer {
    this.report({
      ...base,
      allowed: false,
      reason: refusal.reason,
      message: refusal.message,
      ...(refusal.address ? { address: refusal.address } : {}),
    });
    return refusal.reason === 'resolve-failed'
      ? errorAnswer('resolve-failed', refusal.message)
      : refusalAnswer(refusal.reason, refusal.message);
  }

  private authenticate(
    req: http.IncomingMessage,
    boundExecutionId: string | undefined,
  ): VerifiedGrant | Refusal {
    const verified = this.credentials.verify(
      credentialFromHeader(req.headers['proxy-authorization']),
    );
    if (isCredentialRefusal(verified)) return verified;
    if (
      boundExecutionId !== undefined &&
      verified.executionId !== boundExecutionId
    ) {
      return {
        reason: 'credential-not-for-this-socket',
        message: `this socket serves execution ${boundExecutionId} only`,
      };
    }
    return verified;
  }

  /**
   * The policy for a destination outside the platform: the grant's hosts and
   * ports, then every resolved address. The checked address, or a refusal.
   */
  private async checkDestination(
    grant: VerifiedGrant,
    dest: Destination,
  ): Promise<{ address: string } | Refusal> {
    const denied = checkGrant(grant, dest);
    if (denied) return denied;
    return resolveDestination(dest, this.lookup, this.allowPrivate);
  }

  private async onRequest(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    boundExecutionId: string | undefined,
  ) {
    const method = req.method ?? 'GET';
    const rawTarget = req.url ?? '';
    const parsed = parseAbsoluteTarget(rawTarget);
    if ('error' in parsed) {
      sendAnswer(
        res,
        this.refuse(
          { executionId: boundExecutionId, method, host: '', port: 0 },
          { reason: 'bad-request', message: parsed.error },
        ),
      );
      return;
    }
    const { url, destination } = parsed;
    const grant = this.authenticate(req, boundExecutionId);
    if (isRefusal(grant)) {
      sendAnswer(
        res,
        this.refuse(
          { executionId: boundExecutionId, method, ...destination },
          grant,
        ),
      );
      return;
    }
    const base = { executionId: grant.executionId, method, ...destination };

    const routeName = platformRouteName(destination.host);
    if (routeName !== undefined) {
      await this.forwardPlatform(
        req,
        res,
        grant,
        routeName,
        rawPathOf(rawTarget),
        base,
      );
      return;
    }

    const checked = await this.checkDestination(grant, destination);
    if (isRefusal(checked)) {
      sendAnswer(res, this.refuse(base, checked));
      return;
    }
    this.report({ ...base, allowed: true, address: checked.address });
    forwardRequest(
      req,
      res,
      {
        protocol: url.protocol as 'http:' | 'https:',
        connectTo: checked.address,
        port: destination.port,
        hostHeader: url.host,
        servername: net.isIP(destination.host) ? undefined : destination.host,
        path: `${url.pathname}${url.search}`,
      },
      {
        ca: this.options.upstreamCa,
        connectTimeoutMs: this.connectTimeoutMs,
        isProxyHeader,
      },
    );
  }

  private async forwardPlatform(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    grant: VerifiedGrant,
    name: string,
    rawPath: string,
    base: Omit<EgressDecision, 'allowed'>,
  ) {
    const method = req.method ?? 'GET';
    const resolved = resolvePlatformRoute({
      name,
      routes: this.routes,
      grant,
      method,
      rawPath,
    });
    if (isRefusal(resolved)) {
      sendAnswer(res, this.refuse({ ...base, route: name }, resolved));
      return;
    }
    const { route, target } = resolved;
    let headers: Record<string, string> = {};
    try {
      headers = { ...(await route.headers?.(grant.executionId)) };
    } catch (error: any) {
      if (error instanceof EgressRouteAccessError) {
        sendAnswer(
          res,
          this.refuse(
            { ...base, route: name },
            { reason: 'platform-route-no-access', message: error.message },
          ),
        );
        return;
      }
      sendAnswer(
        res,
        errorAnswer(
          'upstream-failed',
          `platform route "${name}": its headers could not be made (${
            error?.name ?? 'Error'
          })`,
        ),
      );
      return;
    }
    this.report({ ...base, allowed: true, route: name });
    const isHttps = target.protocol === 'https:';
    forwardRequest(
      req,
      res,
      {
        protocol: isHttps ? 'https:' : 'http:',
        connectTo: target.hostname.replace(/^\[|\]$/g, ''),
        port: Number(target.port) || (isHttps ? 443 : 80),
        hostHeader: target.host,
        servername: net.isIP(target.hostname) ? undefined : target.hostname,
        path: `${target.pathname}${target.search}`,
        extraHeaders: headers,
      },
      {
        ca: this.options.upstreamCa,
        connectTimeoutMs: this.connectTimeoutMs,
        isProxyHeader,
      },
    );
  }

  private async onConnect(
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    boundExecutionId: string | undefined,
  ) {
    const method = 'CONNECT';
    const destination = parseConnectTarget(req.url ?? '');
    if (!destination) {
      writeRawAnswer(
        socket,
        this.refuse(
          { executionId: boundExecutionId, method, host: '', port: 0 },
          {
            reason: 'bad-request',
            message: `CONNECT needs host:port, not "${String(req.url).slice(
              0,
              200,
            )}"`,
          },
        ),
      );
      return;
    }
    const grant = this.authenticate(req, boundExecutionId);
    if (isRefusal(grant)) {
      writeRawAnswer(
        socket,
        this.refuse(
          { executionId: boundExecutionId, method, ...destination },
          grant,
        ),
      );
      return;
    }
    const base = { executionId: grant.executionId, method, ...destination };
    const routeName = platformRouteName(destination.host);
    if (routeName !== undefined) {
      writeRawAnswer(
        socket,
        this.refuse(
          { ...base, route: routeName },
          {
            reason: 'platform-route-needs-absolute-form',
            message: `platform routes are reached with absolute-form requests (GET http://${destination.host}/...), not CONNECT`,
          },
        ),
      );
      return;
    }
    const checked = await this.checkDestination(grant, destination);
    if (isRefusal(checked)) {
      writeRawAnswer(socket, this.refuse(base, checked));
      return;
    }
    this.report({ ...base, allowed: true, address: checked.address });
    openTunnel(
      socket,
      head,
      {
        address: checked.address,
        port: destination.port,
        host: destination.host,
      },
      this.connectTimeoutMs,
    );
  }
}
