import { createTestDatabases } from '@internal/test-helpers';
import fc from 'fast-check';
import request from 'supertest';
import {
  agent,
  infraHeader,
  pluginHeader,
  startPlugin,
  userHeader,
} from './__testUtils__/harness';

jest.setTimeout(300_000);

const API = '/api/product-control-plane';
const databases = createTestDatabases();
const RUNS = 1500;
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);

const update = {
  executionId: 'x',
  attempt: 1,
  state: 'running',
  at: '2026-12-01T00:00:00Z',
};
/** Every route of the product control plane router, with a valid body to mutate. */
const ROUTES: Array<{
  method: string;
  path: string;
  body?: Record<string, unknown>;
}> = [
  {
    method: 'POST',
    path: '/executions',
    body: {
      agentRef: 'agent:default/summarizer',
      input: { text: 'hi' },
      mode: 'async',
      resources: { cpu: '250m', memory: '128Mi', timeoutSeconds: 60 },
    },
  },
  { method: 'GET', path: '/executions' },
  { method: 'GET', path: '/executions/:id' },
  { method: 'GET', path: '/executions/:id/audit' },
  { method: 'POST', path: '/executions/:id/cancel' },
  { method: 'POST', path: '/executions/:id/retry', body: { mode: 'async' } },
  { method: 'GET', path: '/executions/:id/logs' },
  { method: 'GET', path: '/executions/:id/events' },
  { method: 'GET', path: '/secrets/:agentRef' },
  { method: 'PUT', path: '/secrets/:agentRef/:name', body: { value: 'v' } },
  { method: 'DELETE', path: '/secrets/:agentRef/:name' },
  { method: 'POST', path: '/internal/executions/:id/updates', body: update },
  { method: 'GET', path: '/internal/executions/:id/secrets' },
  { method: 'GET', path: '/internal/executions/:id/catalog-token' },
];
const QUERY_KEYS = ['agentRef', 'user', 'state', 'limit', 'offset', 'after'];
const REAL_PARAMS = [
  'agent%3Adefault%2Fsummarizer',
  'agent:default/summarizer',
  'OPENAI_API_KEY',
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
  'product control plane router under fuzzed input on %p',
  databaseId => {
    let server: any;

    beforeAll(async () => {
      const knex = await databases.init(databaseId);
      ({ server } = await startPlugin({
        knex,
        entities: [agent('summarizer')],
        config: { sync: { maxWaitSeconds: 1 } },
      }));
    });

    const create = (payload: object, headers: Record<string, string> = {}) =>
      request(server)
        .post(`${API}/executions`)
        .set({ authorization: userHeader('alice'), ...headers })
        .send(payload);
    const valid = {
      agentRef: 'agent:default/summarizer',
      input: { text: 'hi' },
    };

    it('refuses an Idempotency-Key header longer than 255 characters, like the body key', async () => {
      for (const res of [
        await create(valid, { 'idempotency-key': 'k'.repeat(1024) }),
        await create({ ...valid, idempotencyKey: 'k'.repeat(1024) }),
      ]) {
        expect(res.status).toBe(400);
        expect(res.body.error.message).toMatch(/dempotency/);
      }
      const ok = await create(valid, { 'idempotency-key': 'k'.repeat(255) });
      expect(ok.status).toBe(202);
    });

    it.each([
      ['cpu', '0'],
      ['cpu', '0m'],
      ['cpu', '-1'],
      ['memory', '0'],
      ['memory', '0Mi'],
      ['memory', '-128Mi'],
    ])(
      'refuses resources.%s "%s" with a 400 naming the field',
      async (field, value) => {
        const res = await create({ ...valid, resources: { [field]: value } });
        expect(res.status).toBe(400);
        expect(res.body.error.message).toContain(`resources.${field}`);
      },
    );

    it('refuses input nested 5,000 levels deep with a 400 before hashing it', async () => {
      const deepInput = `{"agentRef":"agent:default/summarizer","idempotencyKey":"deep","input":{"a":${'['.repeat(
        5000,
      )}${']'.repeat(5000)}}}`;
      const res = await request(server)
        .post(`${API}/executions`)
        .set({
          authorization: userHeader('alice'),
          'content-type': 'application/json',
        })
        .send(deepInput);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain('nests deeper than 64 levels');
    });

    it('refuses a NUL character in the URL or the body with a 400 (PostgreSQL refuses it in text)', async () => {
      const inUrl = await request(server)
        .get(`${API}/executions/%00`)
        .set('authorization', userHeader('alice'));
      const inBody = await create({ ...valid, input: { text: 'a\u0000b' } });
      for (const res of [inUrl, inBody]) {
        expect(res.status).toBe(400);
        expect(res.body.error.message).toContain('NUL character');
      }
    });

    it('refuses query keys named like object methods and bad secret refs with a 400', async () => {
      const list = await request(server)
        .get(`${API}/executions?state[toString]=x&limit[__proto__]=1`)
        .set('authorization', userHeader('alice'));
      expect(list.status).toBeLessThan(500);
      for (const ref of ['%20', '%2F', '..%2F', 'agent%3Adefault%2F']) {
        const res = await request(server)
          .get(`${API}/secrets/${ref}`)
          .set('authorization', userHeader('alice'));
        expect(res.status).toBe(400);
        expect(res.body.error.message).toContain('Invalid agentRef');
      }
    });

    it(`answers ${RUNS} malformed requests below 500, naming the problem of every 4xx (seed ${SEED})`, async () => {
      const auth: Record<string, string | undefined> = {
        none: undefined,
        user: userHeader('alice'),
        peer: infraHeader(),
        catalog: pluginHeader('catalog'),
        garbage: 'Bearer not-a-token',
        basic: 'Basic YWRhOmFkYQ==',
      };
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(request$(auth), async r => {
          let req = request(server)[r.method.toLowerCase() as 'get'](
            `${API}${r.path}${r.query ? `?${r.query}` : ''}`,
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
          const res = await req.timeout(10_000);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          expect(problemOf(res)).toBeUndefined();
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
      const total = [...statuses.values()].reduce((a, b) => a + b, 0);
      // eslint-disable-next-line no-console
      console.info(
        `product control plane fuzz on ${databaseId}: ${total} requests, statuses ${JSON.stringify(
          Object.fromEntries(statuses),
        )}`,
      );
      expect(total).toBe(RUNS);
    });
  },
);
