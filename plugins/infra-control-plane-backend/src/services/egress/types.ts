import type { LookupAddress } from 'node:dns';

/**
 * What one run may reach through the egress proxy. Carried, signed, inside
 * the run's credential, so any portal replica holding the same key can check
 * it without shared state.
 *
 * @public
 */
export interface EgressGrant {
  executionId: string;
  /** Exact host, `host:port` (that port only), or `*.suffix` (any subdomain); IP literals match literally. */
  allowHosts: string[];
  /** Ports of `allowHosts` entries without an explicit port; default `[80, 443]`. */
  ports?: number[];
  /** When the credential stops being accepted (ms since the epoch). */
  expiresAt: number;
  /** Names of the platform routes the run may use, e.g. `['catalog', 'llm']`. */
  platform?: string[];
}

/**
 * Why the proxy refused a request (or could not carry it out).
 *
 * @public
 */
export type EgressRefusalReason =
  | 'bad-request'
  | 'bad-credential'
  | 'credential-expired'
  | 'credential-not-for-this-socket'
  | 'host-not-allowed'
  | 'port-not-allowed'
  | 'private-address'
  | 'resolve-failed'
  | 'platform-route-not-granted'
  | 'platform-route-unknown'
  | 'platform-route-needs-absolute-form'
  | 'method-not-allowed'
  | 'path-not-allowed'
  | 'platform-route-no-access';

/**
 * One decision of the proxy, reported through `onDecision` for every request
 * it receives: allowed or refused, and why.
 *
 * @public
 */
export interface EgressDecision {
  /** The run, from its verified credential (or the socket it came in on); absent when unknown. */
  executionId?: string;
  allowed: boolean;
  /** `CONNECT` for tunnels. */
  method: string;
  host: string;
  port: number;
  /** The address that was checked and connected to, or the one that was refused. */
  address?: string;
  /** The platform route, for requests to `http://<name>.platform.internal`. */
  route?: string;
  reason?: EgressRefusalReason;
  /** A sentence saying what was refused; never the credential. */
  message?: string;
}

/**
 * A platform route: the virtual origin `http://<name>.platform.internal`
 * forwarded to an operator-configured target.
 *
 * @public
 */
export interface EgressPlatformRoute {
  /** Base URL requests are forwarded to: `target` + the request's path and query. */
  target: string;
  /** Methods allowed on this route, e.g. `['GET']`. */
  methods: string[];
  /**
   * Headers added to every forwarded request (e.g. the run's token), per
   * run. Throwing {@link EgressRouteAccessError} refuses the request (403,
   * `platform-route-no-access`, with its message); any other error is a 502.
   */
  headers?: (
    executionId: string,
  ) => Promise<Record<string, string>> | Record<string, string>;
}

/** How the proxy resolves names: `dns.promises.lookup` compatible. @public */
export type EgressLookup = (
  hostname: string,
  options: { all: true },
) => Promise<LookupAddress[]>;

/** Options of {@link EgressProxy}. @public */
export interface EgressProxyOptions {
  /** HMAC-SHA256 key of the credentials (at least 32 bytes); the same on every replica. */
  key: Buffer;
  /** Default `dns.promises.lookup`. */
  lookup?: EgressLookup;
  /**
   * Addresses allowed although private, loopback, link-local, etc. (internal
   * APIs the operator means runs to reach), as CIDRs: `10.20.0.0/16`, `fd12::/48`.
   */
  allowPrivateCidrs?: string[];
  platformRoutes?: Record<string, EgressPlatformRoute>;
  /** Called for every decision; errors it throws are ignored. */
  onDecision?: (decision: EgressDecision) => void;
  /** CA certificates trusted for upstream TLS (default: Node's bundled roots). */
  upstreamCa?: string | Buffer | Array<string | Buffer>;
  /** How long connecting to an upstream may take; default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** A listening socket of the proxy. @public */
export interface EgressListener {
  /** Stops listening and destroys every open connection and tunnel. */
  close(): Promise<void>;
}

/**
 * Thrown by a platform route's `headers` when the run has no access to the
 * route (e.g. no requester token is kept for it): the request is refused.
 *
 * @public
 */
export class EgressRouteAccessError extends Error {
  name = 'EgressRouteAccessError';
}
