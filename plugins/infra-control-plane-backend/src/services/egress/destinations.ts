import net from 'node:net';
import { CidrList, isAddressAllowed } from './addresses';
import { VerifiedGrant } from './credentials';
import { EgressLookup, EgressRefusalReason } from './types';

/** Where a request wants to go. `host` is lower-case, without brackets or a trailing dot. */
export interface Destination {
  host: string;
  port: number;
}

/** A refusal: the reason, a sentence, and the address concerned. */
export interface Refusal {
  reason: EgressRefusalReason;
  message: string;
  address?: string;
}

function canonicalHost(hostname: string): string {
  return hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
}

/**
 * The destination of a `CONNECT host:port` request target, or undefined when
 * it is not one (the port is required). The host is canonicalized the WHATWG
 * way (`2130706433` and `0x7f.1` become `127.0.0.1`).
 */
export function parseConnectTarget(target: string): Destination | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/?#@[\]\\]+):(\d{1,5})$/.exec(target);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  try {
    const url = new URL(`http://${m[1]}/`);
    if (!url.hostname) return undefined;
    return { host: canonicalHost(url.hostname), port };
  } catch {
    return undefined;
  }
}

/** The parsed absolute-form target (`http://host/path`, `https://...`), or why it is not one. */
export function parseAbsoluteTarget(
  target: string,
): { url: URL; destination: Destination } | { error: string } {
  if (!/^https?:\/\//i.test(target)) {
    return {
      error:
        'this is an egress proxy: send an absolute-form request (GET http://host/path) or CONNECT host:port',
    };
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { error: `not a valid URL: ${target.slice(0, 200)}` };
  }
  if (url.username || url.password) {
    return {
      error: 'URLs with credentials (user:password@) are not forwarded',
    };
  }
  if (!url.hostname) return { error: 'the URL has no host' };
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  return { url, destination: { host: canonicalHost(url.hostname), port } };
}

/**
 * Whether the grant lets a request reach `host:port`: an entry is an exact
 * host (its ports are the grant's `ports`), `host:port` (that port only), or
 * `*.suffix` (any subdomain, not the bare suffix), the same matching as the
 * runtime's `http` tool. IP literals match literally.
 */
export function checkGrant(
  grant: VerifiedGrant,
  dest: Destination,
): Refusal | undefined {
  let hostMatched = false;
  for (const raw of grant.allowHosts) {
    const entry = String(raw).trim().toLowerCase();
    if (!entry) continue;
    let name = entry;
    let entryPort: number | undefined;
    const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(entry);
    if (m) {
      name = m[1];
      entryPort = Number(m[2]);
    }
    name = canonicalHost(name);
    let matches: boolean;
    if (name.startsWith('*.')) {
      const suffix = name.slice(1);
      matches = dest.host.endsWith(suffix) && dest.host.length > suffix.length;
    } else {
      matches = name === dest.host;
    }
    if (!matches) continue;
    hostMatched = true;
    if (
      entryPort !== undefined
        ? entryPort === dest.port
        : grant.ports.includes(dest.port)
    ) {
      return undefined;
    }
  }
  if (!hostMatched) {
    return {
      reason: 'host-not-allowed',
      message: `host "${dest.host}" is not in the allow-list of execution ${
        grant.executionId
      } (${grant.allowHosts.length ? grant.allowHosts.join(', ') : 'empty'})`,
    };
  }
  return {
    reason: 'port-not-allowed',
    message: `port ${dest.port} of "${
      dest.host
    }" is not allowed for execution ${
      grant.executionId
    } (ports: ${grant.ports.join(', ')})`,
  };
}

/**
 * Resolves the destination's name (an IP literal stands for itself) and
 * checks every address it resolves to: one loopback, private, link-local,
 * metadata, ... address outside `allowPrivate` refuses the whole name, so a
 * name with a public and a private answer cannot be used to reach the
 * private one. The caller connects to the returned address, never to the
 * name again (no second resolution that DNS rebinding could change).
 */
export async function resolveDestination(
  dest: Destination,
  lookup: EgressLookup,
  allowPrivate: CidrList,
): Promise<{ address: string; family: 4 | 6 } | Refusal> {
  let addresses: Array<{ address: string; family: number }>;
  if (net.isIP(dest.host)) {
    addresses = [{ address: dest.host, family: net.isIP(dest.host) }];
  } else {
    try {
      addresses = await lookup(dest.host, { all: true });
    } catch (error: any) {
      return {
        reason: 'resolve-failed',
        message: `"${dest.host}" could not be resolved (${
          error?.code ?? 'error'
        })`,
      };
    }
    if (!Array.isArray(addresses) || addresses.length === 0) {
      return {
        reason: 'resolve-failed',
        message: `"${dest.host}" resolved to no address`,
      };
    }
  }
  for (const { address } of addresses) {
    const check = isAddressAllowed(address, allowPrivate);
    if (!check.allowed) {
      return {
        reason: 'private-address',
        address,
        message: `"${dest.host}" resolves to ${address}${
          check.category ? ` (${check.category})` : ' (not an IP address)'
        }, which runs may not reach`,
      };
    }
  }
  const first = addresses[0];
  return {
    address: first.address,
    family: net.isIP(first.address) === 6 ? 6 : 4,
  };
}

export function isRefusal(v: object): v is Refusal {
  return 'reason' in v;
}
