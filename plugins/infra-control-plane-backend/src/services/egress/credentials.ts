import { createHmac, timingSafeEqual } from 'node:crypto';
import { EgressGrant } from './types';

/** A grant as the proxy applies it: defaults filled in. */
export interface VerifiedGrant {
  executionId: string;
  allowHosts: string[];
  ports: number[];
  expiresAt: number;
  platform: string[];
}

/** Why a credential was not accepted. */
export interface CredentialRefusal {
  reason: 'bad-credential' | 'credential-expired';
  message: string;
}

export const DEFAULT_PORTS = [80, 443];
/** Domain separation: a signature made for anything else never verifies here. */
const CONTEXT = 'agentplatform.egress.credential.v1.';

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every(x => typeof x === 'string');
}

function isPort(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
}

/** The grant with defaults, or a sentence saying what is wrong with it. */
function normalize(grant: unknown): VerifiedGrant | string {
  const g = grant as Partial<EgressGrant> | null;
  if (!g || typeof g !== 'object') return 'the grant is not an object';
  if (typeof g.executionId !== 'string' || !g.executionId) {
    return 'executionId must be a non-empty string';
  }
  if (!isStringArray(g.allowHosts)) {
    return 'allowHosts must be an array of strings';
  }
  if (
    g.ports !== undefined &&
    !(Array.isArray(g.ports) && g.ports.every(isPort))
  ) {
    return 'ports must be an array of port numbers (1-65535)';
  }
  if (typeof g.expiresAt !== 'number' || !Number.isFinite(g.expiresAt)) {
    return 'expiresAt must be a number (ms since the epoch)';
  }
  if (g.platform !== undefined && !isStringArray(g.platform)) {
    return 'platform must be an array of route names';
  }
  return {
    executionId: g.executionId,
    allowHosts: [...g.allowHosts],
    ports: [...(g.ports ?? DEFAULT_PORTS)],
    expiresAt: g.expiresAt,
    platform: [...(g.platform ?? [])],
  };
}

/**
 * Per-run credentials of the egress proxy: `<payload>.<signature>`, where the
 * payload is the grant as base64url JSON and the signature its HMAC-SHA256
 * under the proxy's key (base64url). Stateless: whoever holds the key can
 * verify it; nothing is stored.
 */
export class EgressCredentials {
  private readonly now: () => number;

  constructor(
    private readonly key: Buffer,
    options: { now?: () => number } = {},
  ) {
    if (!Buffer.isBuffer(key) || key.length < 32) {
      throw new TypeError(
        'the egress credential key must be a Buffer of at least 32 bytes',
      );
    }
    this.now = options.now ?? Date.now;
  }

  private sign(payload: string): Buffer {
    return createHmac('sha256', this.key)
      .update(CONTEXT)
      .update(payload)
      .digest();
  }

  /** A credential carrying `grant`; throws a TypeError for an invalid grant. */
  issue(grant: EgressGrant): string {
    const g = normalize(grant);
    if (typeof g === 'string')
      throw new TypeError(`invalid egress grant: ${g}`);
    const payload = Buffer.from(JSON.stringify(g), 'utf8').toString(
      'base64url',
    );
    return `${payload}.${this.sign(payload).toString('base64url')}`;
  }

  /** The grant of a valid, unexpired credential, or why it is refused. */
  verify(credential: string | undefined): VerifiedGrant | CredentialRefusal {
    const bad = (message: string): CredentialRefusal => ({
      reason: 'bad-credential',
      message,
    });
    if (!credential)
      return bad(
        'no credential (send Proxy-Authorization: Bearer <credential>)',
      );
    const parts = credential.split('.');
    if (
      parts.length !== 2 ||
      !/^[\w-]+$/.test(parts[0]) ||
      !/^[\w-]+$/.test(parts[1])
    ) {
      return bad('the credential is malformed');
    }
    const [payload, signature] = parts;
    const given = Buffer.from(signature, 'base64url');
    const expected = this.sign(payload);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return bad('the credential signature is not valid');
    }
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return bad('the credential payload is not JSON');
    }
    const grant = normalize(decoded);
    if (typeof grant === 'string')
      return bad(`the credential grant is invalid: ${grant}`);
    if (grant.expiresAt <= this.now()) {
      return {
        reason: 'credential-expired',
        message: `the credential of execution ${
          grant.executionId
        } expired at ${new Date(grant.expiresAt).toISOString()}`,
      };
    }
    return grant;
  }
}

/** Whether `verify` refused. */
export function isRefusal(
  v: VerifiedGrant | CredentialRefusal,
): v is CredentialRefusal {
  return 'reason' in v;
}

/**
 * The credential in a `Proxy-Authorization` header: `Bearer <credential>`, or
 * `Basic base64(<any user>:<credential>)` for generic clients configured with
 * `http://run:<credential>@proxy:3128`.
 */
export function credentialFromHeader(
  header: string | undefined,
): string | undefined {
  if (!header) return undefined;
  const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(header);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  if (scheme === 'bearer') return m[2];
  if (scheme === 'basic') {
    const text = Buffer.from(m[2], 'base64').toString('utf8');
    const colon = text.indexOf(':');
    return colon >= 0 ? text.slice(colon + 1) : undefined;
  }
  return undefined;
}
