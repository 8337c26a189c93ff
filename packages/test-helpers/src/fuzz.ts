import fc from 'fast-check';
import request from 'supertest';

/** One route of a router under fuzzing, with a valid body to mutate. */
export interface FuzzRoute {
  method: string;
  path: string;
  body?: Record<string, unknown>;
}

/** A generated request (see {@link fuzzRequests}). */
export interface FuzzRequest {
  method: string;
  path: string;
  query: string;
  body?: string;
  auth: string;
  contentType: string;
  encoding?: string;
  idempotencyKey?: string;
}

const NASTY = [
  '',
  ' ',
  '%20',
  '%2F',
  '..%2F',
  '..',
  '.',
  '%00',
  '%',
  '%E0%A4%A',
  '%2e%2e',
  '__proto__',
  'constructor',
  'toString',
  'valueOf',
  'a'.repeat(300),
];
const PROTO_KEYS = [
  '__proto__',
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'prototype',
];
/**
 * Malformed requests for a router, the same in each backend's fuzz test:
 * paths built from its routes with nasty segments (empty, encoded slashes,
 * `..`, NUL, broken escapes, prototype names), query keys in bracket forms,
 * JSON bodies of random shape and depth (up to 20,000 levels) or with one
 * field of a valid body replaced, odd content types and encodings, and one
 * of the given authorization headers (by name).
 */
export function fuzzRequests(options: {
  routes: FuzzRoute[];
  queryKeys: string[];
  realParams: string[];
  auth: Record<string, string | undefined>;
}): fc.Arbitrary<FuzzRequest> {
  const {
    routes,
    queryKeys: QUERY_KEYS,
    realParams: REAL_PARAMS,
    auth,
  } = options;
  const text = fc.string({ maxLength: 40, unit: 'binary' });
  const segment = fc.oneof(
    fc.constantFrom(...REAL_PARAMS, ...NASTY),
    text.map(encodeURIComponent),
  );
  const queryKey = fc
    .tuple(
      fc.constantFrom(...QUERY_KEYS, ...PROTO_KEYS),
      fc.constantFrom(
        '',
        '',
        '[]',
        '[toString]',
        '[__proto__]',
        '[constructor][prototype]',
        '[0]',
        '[a][b][c]',
        '.x',
      ),
      fc.boolean(),
    )
    .map(([key, suffix, encode]) =>
      encode ? encodeURIComponent(key + suffix) : key + suffix,
    );
  const queryValue = fc
    .oneof(
      fc.constantFrom(
        '',
        '1',
        '-1',
        '0',
        '1e309',
        'x,y',
        'name',
        'free',
        'true',
        'NaN',
      ),
      text,
    )
    .map(encodeURIComponent);
  const query = fc
    .array(fc.tuple(queryKey, queryValue), { maxLength: 6 })
    .map(pairs => pairs.map(([k, v]) => `${k}=${v}`).join('&'));
  const deep = fc
    .tuple(fc.integer({ min: 50, max: 20_000 }), fc.constantFrom('[', '{"a":'))
    .map(
      ([depth, open]) =>
        `{"input":${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(
          depth,
        )}}`,
    );
  const protoObject = fc
    .dictionary(
      fc.constantFrom(...PROTO_KEYS, 'agentRef', 'plan', 'input'),
      fc.jsonValue({ maxDepth: 3 }),
    )
    .map(o => JSON.stringify(o).replace('"prototype"', '"__proto__"'));
  const body = (sample?: Record<string, unknown>) =>
    fc.oneof(
      fc.constant(undefined),
      fc.jsonValue({ maxDepth: 5 }).map(v => JSON.stringify(v)),
      fc
        .jsonValue({ maxDepth: 2 })
        .map(v => JSON.stringify(Array.from({ length: 300 }, () => v))),
      deep,
      protoObject,
      text,
      fc
        .tuple(
          fc.constantFrom(...Object.keys(sample ?? { x: 1 })),
          fc.jsonValue({ maxDepth: 3 }),
        )
        .map(([key, value]) => JSON.stringify({ ...sample, [key]: value })),
    );
  const CONTENT_TYPES = [
    'application/json',
    'application/json',
    'text/plain',
    'application/json; charset=utf-16',
    'application/x-www-form-urlencoded',
    'multipart/form-data',
  ];
  return fc.constantFrom(...routes).chain(route =>
    fc.record({
      method: fc.oneof(
        { weight: 9, arbitrary: fc.constant(route.method) },
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
      ),
      path: fc
        .array(segment, { minLength: 3, maxLength: 3 })
        .map(values => route.path.replace(/:[a-z]+/gi, () => values.shift()!)),
      query,
      body: body(route.body),
      auth: fc.constantFrom(...Object.keys(auth)),
      contentType: fc.constantFrom(...CONTENT_TYPES),
      encoding: fc.constantFrom(
        undefined,
        undefined,
        undefined,
        'gzip',
        'br',
        'bogus',
      ),
      idempotencyKey: fc.option(fc.string({ maxLength: 1100 }), {
        nil: undefined,
      }),
    }),
  );
}

/** Sends a generated request to the test backend's router under `api`. */
export function sendFuzzRequest(
  server: Parameters<typeof request>[0],
  api: string,
  r: FuzzRequest,
  auth: Record<string, string | undefined>,
) {
  let req = request(server)[r.method.toLowerCase() as 'get'](
    `${api}${r.path}${r.query ? `?${r.query}` : ''}`,
  );
  if (auth[r.auth]) req = req.set('Authorization', auth[r.auth]!);
  if (r.idempotencyKey !== undefined) {
    req = req.set(
      'Idempotency-Key',
      r.idempotencyKey.replace(/[^\x20-\x7e]/g, '_'),
    );
  }
  if (r.encoding) req = req.set('Content-Encoding', r.encoding);
  if (r.body !== undefined) {
    req = req.set('Content-Type', r.contentType).send(r.body);
  }
  return req.timeout(10_000);
}

/**
 * What is wrong with a response: a 5xx, a 4xx whose body does not name the
 * problem, or (with `forbiddenText`, e.g. the repository path in production
 * mode) a stack trace or that text in it. Undefined when nothing is.
 */
export function responseProblem(
  res: { status: number; body?: any; text?: string },
  options: { forbiddenText?: string } = {},
): string | undefined {
  if (res.status >= 500) return `status ${res.status}: ${res.text}`;
  if (res.status >= 400 && !/\S/.test(String(res.body?.error?.message ?? ''))) {
    return `status ${res.status} without error.message: ${res.text}`;
  }
  if (
    options.forbiddenText !== undefined &&
    (res.body?.error?.stack !== undefined ||
      res.text?.includes(options.forbiddenText))
  ) {
    return `status ${res.status} with a stack or a path: ${res.text}`;
  }
  return undefined;
}
