import net from 'node:net';

/**
 * What kind of address a destination is. Everything but `public` is refused
 * by the egress proxy unless the operator allowed it (`allowPrivateCidrs`).
 *
 * @public
 */
export type AddressCategory =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'cgnat'
  | 'metadata'
  | 'multicast'
  | 'broadcast'
  | 'documentation'
  | 'reserved';

/** An address as a number: 32 bits for IPv4, 128 for IPv6. */
export interface ParsedAddress {
  family: 4 | 6;
  value: bigint;
}

function parseIPv4(text: string): bigint | undefined {
  if (!net.isIPv4(text)) return undefined;
  return text
    .split('.')
    .reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function parseIPv6(text: string): bigint | undefined {
  const s = text.replace(/%.*$/, ''); // zone id (fe80::1%eth0)
  if (!net.isIPv6(s)) return undefined;
  let groups = s;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIPv4(last);
    if (v4 === undefined) return undefined;
    tail = [Number(v4 >> 16n), Number(v4 & 0xffffn)];
    groups = s.slice(0, lastColon + 1);
    if (groups.endsWith(':') && !groups.endsWith('::')) {
      groups = groups.slice(0, -1);
    }
  }
  const hex = (part: string) =>
    part === '' ? [] : part.split(':').map(g => parseInt(g, 16));
  let words: number[];
  const gap = groups.indexOf('::');
  if (gap >= 0) {
    const head = hex(groups.slice(0, gap));
    const rest = hex(groups.slice(gap + 2));
    const zeros = 8 - head.length - rest.length - tail.length;
    words = [...head, ...new Array(zeros).fill(0), ...rest, ...tail];
  } else {
    words = [...hex(groups), ...tail];
  }
  if (words.length !== 8 || words.some(w => !(w >= 0 && w <= 0xffff))) {
    return undefined;
  }
  return words.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
}

/** Parses an IPv4 or IPv6 address (brackets and zone ids allowed); undefined when it is not one. */
export function parseAddress(text: string): ParsedAddress | undefined {
  const s = String(text).replace(/^\[(.*)\]$/, '$1');
  const v4 = parseIPv4(s);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIPv6(s);
  if (v6 !== undefined) return { family: 6, value: v6 };
  return undefined;
}

interface Range {
  family: 4 | 6;
  base: bigint;
  bits: number;
}

function range(cidr: string): Range {
  const slash = cidr.lastIndexOf('/');
  const parsed = parseAddress(slash >= 0 ? cidr.slice(0, slash) : cidr);
  const width = parsed?.family === 4 ? 32 : 128;
  const bitsText = slash >= 0 ? cidr.slice(slash + 1) : String(width);
  const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (!parsed || !(bits >= 0 && bits <= width)) {
    throw new TypeError(
      `"${cidr}" is not a CIDR (address/prefix-length, e.g. 10.0.0.0/8 or fd00::/8)`,
    );
  }
  const shift = BigInt(width - bits);
  return {
    family: parsed.family,
    base: (parsed.value >> shift) << shift,
    bits,
  };
}

function inRange(a: ParsedAddress, r: Range): boolean {
  if (a.family !== r.family) return false;
  const shift = BigInt((a.family === 4 ? 32 : 128) - r.bits);
  return (a.value >> shift) << shift === r.base;
}

// Most specific first: the first match names the category.
const SPECIAL_RANGES: Array<[string, AddressCategory]> = [
  ['169.254.169.254/32', 'metadata'],
  ['255.255.255.255/32', 'broadcast'],
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'cgnat'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', 'reserved'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'reserved'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['fd00:ec2::254/128', 'metadata'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::/96', 'reserved'], // IPv4-compatible (deprecated)
  ['64:ff9b:1::/48', 'private'], // local-use NAT64
  ['100::/64', 'reserved'], // discard-only
  ['2001::/32', 'reserved'], // Teredo
  ['2001:db8::/32', 'documentation'],
  ['fc00::/7', 'private'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'reserved'], // site-local (deprecated)
  ['ff00::/8', 'multicast'],
];
const SPECIAL = SPECIAL_RANGES.map(
  ([cidr, category]) => [range(cidr), category] as const,
);

/** IPv6 forms that carry an IPv4 address: mapped, NAT64 (well-known prefix), 6to4. */
const EMBEDDING: Array<[Range, (v: bigint) => bigint]> = [
  [range('::ffff:0:0/96'), v => v & 0xffffffffn],
  [range('64:ff9b::/96'), v => v & 0xffffffffn],
  [range('2002::/16'), v => (v >> 80n) & 0xffffffffn],
];

/**
 * The IPv4 address an IPv6 address stands for (`::ffff:127.0.0.1`,
 * `64:ff9b::7f00:1`, `2002:7f00:1::`), or the address itself.
 */
export function effectiveAddress(a: ParsedAddress): ParsedAddress {
  if (a.family === 6) {
    for (const [r, extract] of EMBEDDING) {
      if (inRange(a, r)) return { family: 4, value: extract(a.value) };
    }
  }
  return a;
}

/**
 * The category of an address; `undefined` when `text` is not an IP address.
 * IPv6 forms carrying an IPv4 address are classified by that address.
 *
 * @public
 */
export function classifyAddress(text: string): AddressCategory | undefined {
  const parsed = parseAddress(text);
  if (!parsed) return undefined;
  const a = effectiveAddress(parsed);
  for (const [r, category] of SPECIAL) {
    if (inRange(a, r)) return category;
  }
  return 'public';
}

/**
 * A list of CIDRs (the operator's `allowPrivateCidrs`). An IPv4 CIDR also
 * contains the IPv6 forms that carry one of its addresses.
 *
 * @public
 */
export class CidrList {
  private readonly ranges: Range[];

  /** Throws a TypeError naming the first entry that is not a CIDR. */
  constructor(cidrs: readonly string[] = []) {
    this.ranges = cidrs.map(c => range(String(c).trim()));
  }

  contains(text: string): boolean {
    const parsed = parseAddress(text);
    if (!parsed) return false;
    const forms = [parsed, effectiveAddress(parsed)];
    return this.ranges.some(r => forms.some(a => inRange(a, r)));
  }
}

/**
 * Whether the proxy may connect to `address`: public, or inside `allowed`.
 *
 * @public
 */
export function isAddressAllowed(
  address: string,
  allowed: CidrList,
): { allowed: boolean; category: AddressCategory | undefined } {
  const category = classifyAddress(address);
  if (category === 'public') return { allowed: true, category };
  return { allowed: allowed.contains(address), category };
}
