import { CidrList } from './addresses';
import { VerifiedGrant } from './credentials';
import {
  checkGrant,
  parseAbsoluteTarget,
  parseConnectTarget,
  resolveDestination,
} from './destinations';

const grant = (allowHosts: string[], ports = [80, 443]): VerifiedGrant => ({
  executionId: 'exec-1',
  allowHosts,
  ports,
  expiresAt: Date.now() + 60_000,
  platform: [],
});

describe('parseConnectTarget', () => {
  it('reads host:port, canonicalizing the host the WHATWG way', () => {
    expect(parseConnectTarget('Example.COM:443')).toEqual({
      host: 'example.com',
      port: 443,
    });
    expect(parseConnectTarget('[::1]:8443')).toEqual({
      host: '::1',
      port: 8443,
    });
    expect(parseConnectTarget('2130706433:80')).toEqual({
      host: '127.0.0.1',
      port: 80,
    });
    expect(parseConnectTarget('example.com.:443')).toEqual({
      host: 'example.com',
      port: 443,
    });
  });

  it('refuses targets without a port or with anything else', () => {
    for (const t of [
      'example.com',
      'example.com:0',
      'example.com:70000',
      'a@b:443',
      'http://x:80',
      '/x:1',
      ':443',
      'a b:1',
    ]) {
      expect(parseConnectTarget(t)).toBeUndefined();
    }
  });
});

describe('parseAbsoluteTarget', () => {
  it('reads http and https URLs with their default ports', () => {
    expect(parseAbsoluteTarget('http://example.com/a?b')).toMatchObject({
      destination: { host: 'example.com', port: 80 },
    });
    expect(parseAbsoluteTarget('https://example.com/')).toMatchObject({
      destination: { host: 'example.com', port: 443 },
    });
    expect(parseAbsoluteTarget('HTTP://[::1]:81/')).toMatchObject({
      destination: { host: '::1', port: 81 },
    });
  });

  it('explains what it refuses', () => {
    expect(parseAbsoluteTarget('/path')).toEqual({
      error: expect.stringMatching(/send an absolute-form request/),
    });
    expect(parseAbsoluteTarget('ftp://x/')).toEqual({
      error: expect.stringMatching(/absolute-form/),
    });
    expect(parseAbsoluteTarget('http://u:p@x/')).toEqual({
      error: expect.stringMatching(/credentials/),
    });
    expect(parseAbsoluteTarget('http://[zz]/')).toEqual({
      error: expect.stringMatching(/not a valid URL/),
    });
  });
});

describe('checkGrant', () => {
  it('matches exact hosts, *.suffix subdomains and host:port entries like the runtime', () => {
    const g = grant([
      'api.example.com',
      '*.example.org',
      'internal.example.net:8443',
      '127.0.0.2',
    ]);
    expect(
      checkGrant(g, { host: 'api.example.com', port: 443 }),
    ).toBeUndefined();
    expect(
      checkGrant(g, { host: 'a.b.example.org', port: 80 }),
    ).toBeUndefined();
    expect(
      checkGrant(g, { host: 'internal.example.net', port: 8443 }),
    ).toBeUndefined();
    expect(checkGrant(g, { host: '127.0.0.2', port: 80 })).toBeUndefined();
    expect(checkGrant(g, { host: 'example.org', port: 443 })).toMatchObject({
      reason: 'host-not-allowed',
    });
    expect(
      checkGrant(g, { host: 'api.example.com.evil.net', port: 443 }),
    ).toMatchObject({ reason: 'host-not-allowed' });
    expect(checkGrant(g, { host: 'evilexample.org', port: 443 })).toMatchObject(
      { reason: 'host-not-allowed' },
    );
    expect(checkGrant(g, { host: '127.0.0.3', port: 80 })).toMatchObject({
      reason: 'host-not-allowed',
    });
  });

  it('refuses ports outside the grant, naming them', () => {
    const g = grant(['api.example.com', 'internal.example.net:8443'], [443]);
    expect(checkGrant(g, { host: 'api.example.com', port: 80 })).toEqual({
      reason: 'port-not-allowed',
      message:
        'port 80 of "api.example.com" is not allowed for execution exec-1 (ports: 443)',
    });
    expect(
      checkGrant(g, { host: 'internal.example.net', port: 443 }),
    ).toMatchObject({ reason: 'port-not-allowed' });
  });
});

describe('resolveDestination', () => {
  const none = new CidrList();
  const answers =
    (...addresses: string[]) =>
    async () =>
      addresses.map(address => ({
        address,
        family: address.includes(':') ? 6 : 4,
      }));

  it('returns the first address when every answer is public', async () => {
    await expect(
      resolveDestination(
        { host: 'example.com', port: 443 },
        answers('93.184.216.34', '2606:2800:220:1::1'),
        none,
      ),
    ).resolves.toEqual({ address: '93.184.216.34', family: 4 });
  });

  it('refuses a name when any answer is private, naming it', async () => {
    await expect(
      resolveDestination(
        { host: 'mixed.example.com', port: 443 },
        answers('93.184.216.34', '10.0.0.5'),
        none,
      ),
    ).resolves.toEqual({
      reason: 'private-address',
      address: '10.0.0.5',
      message:
        '"mixed.example.com" resolves to 10.0.0.5 (private), which runs may not reach',
    });
    await expect(
      resolveDestination(
        { host: 'meta.example.com', port: 80 },
        answers('::ffff:169.254.169.254'),
        none,
      ),
    ).resolves.toMatchObject({
      reason: 'private-address',
      message: expect.stringContaining('(metadata)'),
    });
  });

  it('checks IP literals without resolving, and admits the operator’s private ranges', async () => {
    const lookup = jest.fn();
    await expect(
      resolveDestination({ host: '10.1.2.3', port: 80 }, lookup, none),
    ).resolves.toMatchObject({
      reason: 'private-address',
    });
    await expect(
      resolveDestination(
        { host: '10.1.2.3', port: 80 },
        lookup,
        new CidrList(['10.1.0.0/16']),
      ),
    ).resolves.toEqual({ address: '10.1.2.3', family: 4 });
    expect(lookup).not.toHaveBeenCalled();
  });

  it('reports names that do not resolve', async () => {
    const failing = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), {
        code: 'ENOTFOUND',
      });
    };
    await expect(
      resolveDestination({ host: 'nope.invalid', port: 80 }, failing, none),
    ).resolves.toEqual({
      reason: 'resolve-failed',
      message: '"nope.invalid" could not be resolved (ENOTFOUND)',
    });
    await expect(
      resolveDestination({ host: 'empty.example', port: 80 }, answers(), none),
    ).resolves.toMatchObject({
      reason: 'resolve-failed',
    });
  });
});
