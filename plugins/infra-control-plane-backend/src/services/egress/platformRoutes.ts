import { VerifiedGrant } from './credentials';
import { Refusal } from './destinations';
import { EgressPlatformRoute } from './types';

/** The virtual domain of platform routes: `http://<name>.platform.internal/...`. @public */
export const PLATFORM_DOMAIN = 'platform.internal';

/** The virtual origin of a platform route, e.g. `http://catalog.platform.internal`. @public */
export function platformOrigin(name: string): string {
  return `http://${name}.${PLATFORM_DOMAIN}`;
}

/** `catalog` for `catalog.platform.internal`; undefined for any other host. */
export function platformRouteName(host: string): string | undefined {
  const suffix = `.${PLATFORM_DOMAIN}`;
  if (host === PLATFORM_DOMAIN) return '';
  return host.endsWith(suffix) ? host.slice(0, -suffix.length) : undefined;
}

/**
 * The path and query of an absolute-form request target, exactly as sent
 * (before any URL normalization).
 */
export function rawPathOf(target: string): string {
  const afterScheme = target.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const start = afterScheme.search(/[/?#]/);
  if (start < 0) return '/';
  const rest = afterScheme.slice(start).replace(/#.*$/, '');
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/**
 * Checks a request path for a platform route: no `.` or `..` segment, also
 * percent-encoded, no encoded `/` or `\` that the target could decode into
 * one, no backslash. Returns the path unchanged (the request goes to
 * `target` + path, and cannot leave the target's base path), or a refusal.
 */
export function checkRoutePath(rawPath: string): Refusal | undefined {
  const q = rawPath.indexOf('?');
  const path = q >= 0 ? rawPath.slice(0, q) : rawPath;
  const refuse = (why: string): Refusal => ({
    reason: 'path-not-allowed',
    message: `path ${path.slice(
      0,
      200,
    )} is not allowed on a platform route: ${why}`,
  });
  if (path.includes('\\')) return refuse('backslash');
  for (const segment of path.split('/').slice(1)) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return refuse('bad percent-encoding');
    }
    if (decoded === '.' || decoded === '..') return refuse('dot segment');
    if (/[/\\]/.test(decoded)) return refuse('encoded slash');
    if (/%2e|%2f|%5c/i.test(decoded)) return refuse('double encoding');
  }
  return undefined;
}

/**
 * Where a platform-route request goes, or why it may not: the route must
 * exist, be granted to the run, allow the method, and the path must be clean.
 */
export function resolvePlatformRoute(options: {
  name: string;
  routes: Record<string, EgressPlatformRoute>;
  grant: VerifiedGrant;
  method: string;
  rawPath: string;
}): { route: EgressPlatformRoute; target: URL } | Refusal {
  const { name, routes, grant, method, rawPath } = options;
  if (!grant.platform.includes(name)) {
    return {
      reason: 'platform-route-not-granted',
      message: `platform route "${name}" is not granted to execution ${
        grant.executionId
      } (granted: ${
        grant.platform.length ? grant.platform.join(', ') : 'none'
      })`,
    };
  }
  const route = Object.prototype.hasOwnProperty.call(routes, name)
    ? routes[name]
    : undefined;
  if (!route) {
    return {
      reason: 'platform-route-unknown',
      message: `platform route "${name}" is not configured on this proxy`,
    };
  }
  if (!route.methods.map(m => m.toUpperCase()).includes(method.toUpperCase())) {
    return {
      reason: 'method-not-allowed',
      message: `method ${method} is not allowed on platform route "${name}" (allowed: ${route.methods.join(
        ', ',
      )})`,
    };
  }
  const bad = checkRoutePath(rawPath);
  if (bad) return bad;
  const base = new URL(route.target);
  const basePath = base.pathname.replace(/\/+$/, '');
  const q = rawPath.indexOf('?');
  const path = q >= 0 ? rawPath.slice(0, q) : rawPath;
  const query = q >= 0 ? rawPath.slice(q) : '';
  const target = new URL(base.origin);
  // Assigned as a string, the path is re-normalized by URL: it had no dot segments.
  target.pathname = `${basePath}${path}`;
  target.search = query;
  return { route, target };
}
