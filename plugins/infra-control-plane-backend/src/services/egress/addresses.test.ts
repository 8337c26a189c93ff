import net from 'node:net';
import {
  CidrList,
  classifyAddress,
  isAddressAllowed,
  parseAddress,
} from './addresses';

describe('classifyAddress', () => {
  it.each([
    ['8.8.8.8', 'public'],
    ['93.184.216.34', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fc00::1', 'private'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['169.254.169.254', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.10', 'documentation'],
    ['2001:db8::1', 'documentation'],
    // IPv6 forms carrying an IPv4 address are judged by that address.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:0.0.0.0', 'unspecified'],
    ['::ffff:8.8.8.8', 'public'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['2002:7f00:1::1', 'loopback'],
    ['[::ffff:192.168.0.1]', 'private'],
    ['::127.0.0.1', 'reserved'],
  ])('%s is %s', (address, category) => {
    expect(classifyAddress(address)).toBe(category);
  });

  it('says undefined for what is not an IP address', () => {
    for (const s of [
      '',
      'localhost',
      'example.com',
      '1.2.3',
      '::g',
      '1.2.3.4.5',
      '999.1.1.1',
    ]) {
      expect(classifyAddress(s)).toBeUndefined();
    }
  });
});

describe('CidrList', () => {
  it('contains addresses of its IPv4 and IPv6 ranges, and the IPv6 forms of its IPv4 ones', () => {
    const list = new CidrList(['127.0.0.2/32', '10.20.0.0/16', 'fd12::/16']);
    expect(list.contains('127.0.0.2')).toBe(true);
    expect(list.contains('::ffff:127.0.0.2')).toBe(true);
    expect(list.contains('127.0.0.3')).toBe(false);
    expect(list.contains('10.20.255.1')).toBe(true);
    expect(list.contains('10.21.0.1')).toBe(false);
    expect(list.contains('fd12:1::1')).toBe(true);
    expect(list.contains('fd13::1')).toBe(false);
    expect(list.contains('not-an-ip')).toBe(false);
  });

  it('refuses entries that are not CIDRs, naming them', () => {
    expect(() => new CidrList(['10.0.0.0/33'])).toThrow(
      /"10.0.0.0\/33" is not a CIDR/,
    );
    expect(() => new CidrList(['internal.example.com/24'])).toThrow(
      /is not a CIDR/,
    );
    expect(() => new CidrList(['fd00::/129'])).toThrow(/is not a CIDR/);
  });

  it('lets isAddressAllowed admit a private address only inside the list', () => {
    const list = new CidrList(['10.20.0.0/16']);
    expect(isAddressAllowed('10.20.1.1', list)).toEqual({
      allowed: true,
      category: 'private',
    });
    expect(isAddressAllowed('10.30.1.1', list)).toEqual({
      allowed: false,
      category: 'private',
    });
    expect(isAddressAllowed('1.1.1.1', new CidrList())).toEqual({
      allowed: true,
      category: 'public',
    });
  });
});

/*
 * Randomized, seeded differential test of the classifier (fast-check is not
 * among the repository's packages): random addresses, half of them drawn
 * inside the special ranges, against Node's own net.BlockList built from the
 * same ranges; plus the IPv4-mapped form of every IPv4 address classified
 * like the address itself.
 */
describe('classifyAddress on random addresses', () => {
  function prng(seed: number) {
    let s = seed >>> 0;
    return () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const random = prng(20261201);
  const int = (n: number) => Math.floor(random() * n);

  const V4_BLOCKED = [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.88.99.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ] as const;
  const V6_BLOCKED = [
    ['::', 96],
    ['64:ff9b:1::', 48],
    ['100::', 64],
    ['2001::', 32],
    ['2001:db8::', 32],
    ['fc00::', 7],
    ['fe80::', 10],
    ['fec0::', 10],
    ['ff00::', 8],
  ] as const;

  function v4FromInt(n: number) {
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  }
  function v4Int(a: string) {
    return a.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
  }
  function randomV4(): string {
    if (random() < 0.5) {
      const [base, bits] = V4_BLOCKED[int(V4_BLOCKED.length)];
      const size = 2 ** (32 - bits);
      return v4FromInt(v4Int(base) + int(size));
    }
    return v4FromInt(int(2 ** 32));
  }
  function randomV6(): string {
    const words = Array.from({ length: 8 }, () => int(0x10000));
    if (random() < 0.5) {
      const [base, bits] = V6_BLOCKED[int(V6_BLOCKED.length)];
      const baseWords = (base.endsWith('::') ? `${base}0` : base)
        .split('::')
        .map(part => (part ? part.split(':').map(w => parseInt(w, 16)) : []));
      const full = [
        ...baseWords[0],
        ...new Array(
          8 - baseWords[0].length - (baseWords[1]?.length ?? 0),
        ).fill(0),
        ...(baseWords[1] ?? []),
      ];
      for (let i = 0; i < 8; i++) {
        const keep = Math.max(0, Math.min(16, bits - i * 16));
        const mask = keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
        words[i] = (full[i] & mask) | (words[i] & ~mask & 0xffff);
      }
    } else if (random() < 0.3) {
      words[0] = 0x2000 + int(0x1000); // global unicast 2000::/4, mostly public
    }
    return words.map(w => w.toString(16)).join(':');
  }

  const reference4 = new net.BlockList();
  for (const [base, bits] of V4_BLOCKED)
    reference4.addSubnet(base, bits, 'ipv4');
  reference4.addAddress('255.255.255.255', 'ipv4');
  const reference6 = new net.BlockList();
  for (const [base, bits] of V6_BLOCKED)
    reference6.addSubnet(base, bits, 'ipv6');

  it('agrees with net.BlockList on 20 000 random IPv4 addresses, and classifies their mapped forms alike', () => {
    const wrong: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const a = randomV4();
      const category = classifyAddress(a);
      const [hi, lo] = [v4Int(a) >>> 16, v4Int(a) & 0xffff];
      if ((category !== 'public') !== reference4.check(a, 'ipv4'))
        wrong.push(`${a}: ${category}`);
      if (classifyAddress(`::ffff:${a}`) !== category)
        wrong.push(`::ffff:${a}`);
      if (
        classifyAddress(`::ffff:${hi.toString(16)}:${lo.toString(16)}`) !==
        category
      ) {
        wrong.push(`::ffff:${hi.toString(16)}:${lo.toString(16)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('agrees with net.BlockList on 20 000 random IPv6 addresses (outside the forms carrying IPv4)', () => {
    let checked = 0;
    const wrong: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const a = randomV6();
      if (!parseAddress(a)) wrong.push(`${a}: not parsed`);
      // Mapped, NAT64 and 6to4 addresses are judged by their IPv4 address (tested above).
      if (/^(0:0:0:0:0:ffff:|64:ff9b:0:0:0:0:|2002:)/.test(a)) continue;
      checked++;
      const category = classifyAddress(a);
      if ((category !== 'public') !== reference6.check(a, 'ipv6'))
        wrong.push(`${a}: ${category}`);
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(15_000);
  });

  it('never throws on random strings, and says undefined for what net.isIP rejects', () => {
    const alphabet = '0123456789abcdef:.[]%ffff x';
    const wrong: string[] = [];
    for (let i = 0; i < 5_000; i++) {
      const s = Array.from(
        { length: int(40) },
        () => alphabet[int(alphabet.length)],
      ).join('');
      const category = classifyAddress(s);
      if (!net.isIP(s.replace(/^\[(.*)\]$/, '$1')) && category !== undefined)
        wrong.push(s);
    }
    expect(wrong).toEqual([]);
  });
});
