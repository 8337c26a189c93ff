import { VerifiedGrant } from './credentials';
import {
  checkRoutePath,
  platformRouteName,
  rawPathOf,
  resolvePlatformRoute,
} from './platformRoutes';

const grant: VerifiedGrant = {
  executionId: 'exec-1',
  allowHosts: [],
  ports: [80, 443],
  expiresAt: Date.now() + 60_000,
  platform: ['catalog'],
};
const routes = {
  catalog: { target: 'http://backend:7007/api/catalog/', methods: ['GET'] },
};

describe('platform routes', () => {
  it('names the route of a *.platform.internal host only', () => {
    expect(platformRouteName('catalog.platform.internal')).toBe('catalog');
    expect(
      platformRouteName('catalog.platform.internal.evil.com'),
    ).toBeUndefined();
    expect(platformRouteName('example.com')).toBeUndefined();
  });

  it('keeps the raw path of an absolute-form target, before any normalization', () => {
    expect(rawPathOf('http://catalog.platform.internal/a/../b?x=1#f')).toBe(
      '/a/../b?x=1',
    );
    expect(rawPathOf('http://catalog.platform.internal')).toBe('/');
    expect(rawPathOf('http://catalog.platform.internal?x')).toBe('/?x');
  });

  it('forwards below the target base path, query kept', () => {
    const r = resolvePlatformRoute({
      name: 'catalog',
      routes,
      grant,
      method: 'get',
      rawPath: '/entities/by-query?filter=kind%3DAgent',
    });
    expect('target' in r && r.target.toString()).toBe(
      'http://backend:7007/api/catalog/entities/by-query?filter=kind%3DAgent',
    );
  });

  it.each([
    '/../admin',
    '/entities/../../admin',
    '/%2e%2e/admin',
    '/%2E%2E/admin',
    '/.%2e/admin',
    '/..%2fadmin',
    '/a%2F..%2F..%2Fadmin',
    '/a%5c..%5cadmin',
    '/a\\..\\admin',
    '/%252e%252e/admin',
    '/./x',
    '/%zz',
  ])('refuses %s (it could leave the base path)', rawPath => {
    expect(checkRoutePath(rawPath)).toMatchObject({
      reason: 'path-not-allowed',
    });
  });

  it('accepts ordinary paths, also with encoded characters', () => {
    for (const p of [
      '/',
      '/entities/by-name/component/default/my-service',
      '/entities?x=../y',
      '/a%20b/c..d/...',
    ]) {
      expect(checkRoutePath(p)).toBeUndefined();
    }
  });

  it('refuses routes not granted, not configured, and methods not listed', () => {
    expect(
      resolvePlatformRoute({
        name: 'llm',
        routes,
        grant,
        method: 'GET',
        rawPath: '/',
      }),
    ).toMatchObject({
      reason: 'platform-route-not-granted',
    });
    expect(
      resolvePlatformRoute({
        name: 'llm',
        routes,
        grant: { ...grant, platform: ['llm'] },
        method: 'GET',
        rawPath: '/',
      }),
    ).toMatchObject({ reason: 'platform-route-unknown' });
    expect(
      resolvePlatformRoute({
        name: 'catalog',
        routes,
        grant,
        method: 'DELETE',
        rawPath: '/',
      }),
    ).toMatchObject({
      reason: 'method-not-allowed',
      message:
        'method DELETE is not allowed on platform route "catalog" (allowed: GET)',
    });
    expect(
      resolvePlatformRoute({
        name: 'toString',
        routes,
        grant: { ...grant, platform: ['toString'] },
        method: 'GET',
        rawPath: '/',
      }),
    ).toMatchObject({ reason: 'platform-route-unknown' });
  });
});
