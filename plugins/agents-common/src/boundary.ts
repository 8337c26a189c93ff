/*
 * What the three backends check at their HTTP boundary before any service
 * code runs: who may call a layer-to-layer route, and the shape limits of
 * untrusted input (query strings, JSON nesting, entity ref parts). Pure
 * functions; each router turns a returned problem into an InputError or
 * NotAllowedError.
 */
import { makeValidator } from '@backstage/catalog-model';

/** The token subject of a Backstage plugin's service credentials. @public */
export function pluginSubject(pluginId: string): string {
  return `plugin:${pluginId}`;
}

/**
 * Why a caller is not one of the named peer plugins, or undefined when it is.
 * Only the service credentials of exactly those plugins pass: another
 * plugin's token, an external access token and a user are all refused.
 *
 * @public
 */
export function peerRefusal(
  principal: { type: string; subject?: unknown },
  route: string,
  peerPluginIds: string[],
): string | undefined {
  const allowed = peerPluginIds.map(pluginSubject);
  if (
    principal.type === 'service' &&
    allowed.includes(String(principal.subject))
  ) {
    return undefined;
  }
  const caller =
    principal.type === 'service'
      ? String(principal.subject)
      : `a ${principal.type} principal`;
  return `${route} may only be called by ${allowed.join(
    ' or ',
  )}, not by ${caller}`;
}

/**
 * Parses the query of a request URL into flat values: each key maps to a
 * string, or to every value in order when it repeats. No nesting, no arrays
 * from brackets, and a prototype-free object, so keys like `toString`,
 * `constructor` or `__proto__` are plain keys.
 *
 * @public
 */
export function parseFlatQuery(url: string): Record<string, string | string[]> {
  const index = url.indexOf('?');
  const query: Record<string, string | string[]> = Object.create(null);
  if (index < 0) return query;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(url.slice(index + 1));
  } catch {
    return query;
  }
  for (const [key, value] of params) {
    const seen = query[key];
    if (seen === undefined) query[key] = value;
    else query[key] = Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return query;
}

/** How deep a JSON request body may nest (objects and arrays). @public */
export const MAX_JSON_DEPTH = 64;

/**
 * Why a JSON value cannot be taken in, or undefined: nesting deeper than
 * `maxDepth`, or a NUL character in a string or key (PostgreSQL refuses it
 * in text and jsonb). Iterative, so it is safe on any input `JSON.parse`
 * accepted (deep input overflows the stack of recursive code such as
 * `JSON.stringify` or a validator).
 *
 * @public
 */
export function jsonInputProblem(
  value: unknown,
  what: string,
  maxDepth = MAX_JSON_DEPTH,
): string | undefined {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [current, depth] = stack.pop()!;
    if (typeof current === 'string' && current.includes('\0')) {
      return `${what} contains a NUL character`;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= maxDepth) {
      return `${what} nests deeper than ${maxDepth} levels`;
    }
    for (const [key, child] of Object.entries(current)) {
      if (key.includes('\0')) return `${what} contains a NUL character`;
      stack.push([child, depth + 1]);
    }
  }
  return undefined;
}

/**
 * Why a request URL cannot be taken in, or undefined: a NUL character in its
 * path or query (raw or `%00`), which no route means and PostgreSQL refuses.
 *
 * @public
 */
export function urlInputProblem(url: string): string | undefined {
  return /%00|\0/i.test(url)
    ? 'the URL contains a NUL character (%00)'
    : undefined;
}

const validators = makeValidator();

/**
 * Why `namespace` and `name` do not form a valid entity ref of `kind`, or
 * undefined. Each part is checked with the catalog's own rules, so empty,
 * blank, `/`, `..` and over-long parts are refused before any lookup.
 *
 * @public
 */
export function entityRefPartsProblem(
  kind: string,
  namespace: string,
  name: string,
): string | undefined {
  if (!validators.isValidKind(kind))
    return `kind "${kind}" is not a valid entity kind`;
  // Refs are case-insensitive; the catalog's namespace rule is lower-case.
  if (!validators.isValidNamespace(namespace.toLocaleLowerCase('en-US'))) {
    return `namespace "${namespace}" is not a valid entity namespace`;
  }
  if (!validators.isValidEntityName(name))
    return `name "${name}" is not a valid entity name`;
  return undefined;
}

/**
 * Why `ref` is not an entity ref (`[kind:][namespace/]name`, each part valid),
 * or undefined. `defaultKind` applies when the ref has no kind.
 *
 * @public
 */
export function entityRefProblem(
  ref: string,
  defaultKind: string,
): string | undefined {
  const colon = ref.indexOf(':');
  const kind = colon >= 0 ? ref.slice(0, colon) : defaultKind;
  const rest = colon >= 0 ? ref.slice(colon + 1) : ref;
  const parts = rest.split('/');
  if (parts.length > 2)
    return `"${ref}" is not an entity ref like kind:namespace/name`;
  const [namespace, name] = parts.length === 2 ? parts : ['default', parts[0]];
  return entityRefPartsProblem(kind, namespace, name);
}
