import fc from 'fast-check';
import request from 'supertest';
import { mockCredentials } from '@backstage/backend-test-utils';
import { createTestDatabases } from '@internal/test-helpers';
import {
  exampleEntities,
  pluginHeader,
  startMarketplaceBackend,
} from './__testUtils__/testBackend';

jest.setTimeout(300_000);

const databases = createTestDatabases();
const RUNS = 1500;
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);

/** Every route of the marketplace router, with a valid body to mutate. */
const ROUTES: Array<{
  method: string;
  path: string;
  body?: Record<string, unknown>;
}> = [
  { method: 'GET', path: '/agents' },
  { method: 'GET', path: '/agents/:namespace/:name' },
  {
    method: 'PUT',
    path: '/agents/:namespace/:name/visibility',
    body: { visibility: 'private' },
  },
  { method: 'POST', path: '/refresh' },
  {
    method: 'POST',
    path: '/entitlements/check',
    body: {
      agentRef: 'agent:default/summarizer',
      userRef: 'user:default/ada',
      ownershipRefs: ['user:default/ada'],
    },
  },
  {
    method: 'POST',
    path: '/entitlements',
    body: { agentRef: 'agent:default/summarizer', plan: 'free' },
  },
  { method: 'GET', path: '/entitlements' },
  { method: 'PATCH', path: '/entitlements/:id', body: { plan: 'free' } },
  { method: 'DELETE', path: '/entitlements/:id' },
  { method: 'POST', path: '/entitlements/:id/cancel' },
  { method: 'POST', path: '/entitlements/:id/revoke' },
  { method: 'GET', path: '/entitlements/:id/audit' },
  { method: 'GET', path: '/usage' },
  {
    method: 'POST',
    path: '/usage',
    body: {
      executionId: 'fuzz-1',
      agentRef: 'agent:default/summarizer',
      userRef: 'user:default/ada',
      holderRef: 'user:default/ada',
      plan: 'free',
      state: 'succeeded',
      finishedAt: '2026-12-01T00:00:00Z',
      computeSeconds: 1,
      cost: 0,
    },
  },
  { method: 'GET', path: '/publishing' },
  { method: 'GET', path: '/visibility-overrides' },
];
const QUERY_KEYS = [
  'q',
  'tags',
  'owner',
  'pricing',
  'visibility',
  'availability',
  'sort',
  'page',
  'pageSize',
  'mine',
  'status',
];
const REAL_PARAMS = [
  'default',
  'summarizer',
  'llm-assistant',
  'agent%3Adefault%2Fsummarizer',
  '00000000-0000-0000-0000-000000000000',
];

// -- generators (the same shape in each backend's fuzz test) ------------------

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
const request$ = (auth: Record<string, string | undefined>) =>
  fc.constantFrom(...ROUTES).chain(route =>
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

/** What is wrong with a response: a 5xx, or a 4xx whose body does not name the problem. */
function problemOf(res: { status: number; body?: any; text?: string }) {
  if (res.status >= 500) return `status ${res.status}: ${res.text}`;
  if (res.status >= 400 && !/\S/.test(String(res.body?.error?.message ?? ''))) {
    return `status ${res.status} without error.message: ${res.text}`;
  }
  return undefined;
}

describe.each(databases.eachSupportedId())(
  'marketplace router under fuzzed input on %s',
  databaseId => {
    let server: any;
    let backend: Awaited<ReturnType<typeof startMarketplaceBackend>>;

    beforeAll(async () => {
      const knex = await databases.init(databaseId);
      backend = await startMarketplaceBackend({
        knex,
        entities: exampleEntities(),
      });
      server = backend.server;
    });

    afterAll(async () => {
      await backend?.stop();
    });

    it.each(['tags[toString]=x', 'toString=x', 'tags[__proto__][a]=1'])(
      'answers GET /agents?%s without a token as a plain unknown key',
      async search => {
        const res = await request(server).get(
          `/api/marketplace/agents?${search}`,
        );
        expect(res.status).toBe(200);
      },
    );

    it.each(['%20', '%2F', '..%2F', '..', 'a'.repeat(64)])(
      'refuses the agent name "%s" with a 400 naming it',
      async name => {
        const res = await request(server).get(
          `/api/marketplace/agents/default/${name}`,
        );
        expect(res.status).toBe(400);
        expect(res.body.error.message).toContain(
          `name "${decodeURIComponent(name)}" is not a valid entity name`,
        );
      },
    );

    it(`answers ${RUNS} malformed requests below 500, naming the problem of every 4xx (seed ${SEED})`, async () => {
      const auth: Record<string, string | undefined> = {
        none: undefined,
        user: mockCredentials.user.header('user:default/ada'),
        peer: pluginHeader('product-control-plane'),
        permission: pluginHeader('permission'),
        catalog: pluginHeader('catalog'),
        garbage: 'Bearer not-a-token',
        basic: 'Basic YWRhOmFkYQ==',
      };
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(request$(auth), async r => {
          let req = request(server)[r.method.toLowerCase() as 'get'](
            `/api/marketplace${r.path}${r.query ? `?${r.query}` : ''}`,
          );
          if (auth[r.auth]) req = req.set('Authorization', auth[r.auth]!);
          if (r.idempotencyKey !== undefined)
            req = req.set(
              'Idempotency-Key',
              r.idempotencyKey.replace(/[^\x20-\x7e]/g, '_'),
            );
          if (r.encoding) req = req.set('Content-Encoding', r.encoding);
          if (r.body !== undefined)
            req = req.set('Content-Type', r.contentType).send(r.body);
          const res = await req;
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          expect(problemOf(res)).toBeUndefined();
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
      const total = [...statuses.values()].reduce((a, b) => a + b, 0);
      // eslint-disable-next-line no-console
      console.info(
        `marketplace fuzz on ${databaseId}: ${total} requests, statuses ${JSON.stringify(
          Object.fromEntries(statuses),
        )}`,
      );
      expect(total).toBe(RUNS);
    });
  },
);
