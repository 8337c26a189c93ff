import { randomBytes } from 'node:crypto';
import {
  EgressCredentials,
  credentialFromHeader,
  isRefusal,
} from './credentials';

const grant = {
  executionId: 'exec-1',
  allowHosts: ['api.example.com', '*.example.org'],
  expiresAt: 2_000_000,
};

describe('EgressCredentials', () => {
  const key = randomBytes(32);
  let now = 1_000_000;
  const credentials = new EgressCredentials(key, { now: () => now });

  it('verifies its own credential and fills in the default ports and platform routes', () => {
    const credential = credentials.issue(grant);
    expect(credential).toMatch(/^[\w-]+\.[\w-]{43}$/);
    expect(credentials.verify(credential)).toEqual({
      ...grant,
      ports: [80, 443],
      platform: [],
    });
  });

  it('is stateless: another instance with the same key verifies it, one with another key does not', () => {
    const credential = credentials.issue({
      ...grant,
      ports: [8443],
      platform: ['catalog'],
    });
    expect(
      new EgressCredentials(Buffer.from(key), { now: () => now }).verify(
        credential,
      ),
    ).toMatchObject({
      ports: [8443],
      platform: ['catalog'],
    });
    expect(
      new EgressCredentials(randomBytes(32), { now: () => now }).verify(
        credential,
      ),
    ).toEqual({
      reason: 'bad-credential',
      message: 'the credential signature is not valid',
    });
  });

  it('refuses a changed grant (the signature no longer matches)', () => {
    const [payload, signature] = credentials.issue(grant).split('.');
    const changed = JSON.parse(Buffer.from(payload, 'base64url').toString());
    changed.allowHosts.push('evil.example.net');
    const forged = `${Buffer.from(JSON.stringify(changed)).toString(
      'base64url',
    )}.${signature}`;
    expect(credentials.verify(forged)).toMatchObject({
      reason: 'bad-credential',
    });
  });

  it('refuses expired, missing and malformed credentials', () => {
    const credential = credentials.issue(grant);
    now = grant.expiresAt;
    const expired = credentials.verify(credential);
    now = 1_000_000;
    expect(expired).toMatchObject({
      reason: 'credential-expired',
      message: expect.stringContaining(
        'exec-1 expired at 1970-01-01T00:33:20.000Z',
      ),
    });
    for (const bad of [
      undefined,
      '',
      'x',
      'a.b.c',
      `${credential}x`,
      `.${credential.split('.')[1]}`,
    ]) {
      const v = credentials.verify(bad);
      expect(isRefusal(v) && v.reason).toBe('bad-credential');
    }
  });

  it('issues only valid grants and needs a key of at least 32 bytes', () => {
    expect(() => credentials.issue({ ...grant, executionId: '' })).toThrow(
      /executionId/,
    );
    expect(() => credentials.issue({ ...grant, ports: [0] })).toThrow(/ports/);
    expect(() =>
      credentials.issue({ ...grant, allowHosts: 'x' as any }),
    ).toThrow(/allowHosts/);
    expect(() => new EgressCredentials(randomBytes(16))).toThrow(
      /at least 32 bytes/,
    );
  });
});

describe('credentialFromHeader', () => {
  it('reads Bearer, and Basic with the credential as password', () => {
    expect(credentialFromHeader('Bearer abc.def')).toBe('abc.def');
    expect(credentialFromHeader('bearer   abc.def ')).toBe('abc.def');
    expect(
      credentialFromHeader(
        `Basic ${Buffer.from('run:abc.def').toString('base64')}`,
      ),
    ).toBe('abc.def');
    expect(credentialFromHeader('Digest x')).toBeUndefined();
    expect(credentialFromHeader(undefined)).toBeUndefined();
  });
});
