import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { createTestDatabases } from '@internal/test-helpers';
import fc from 'fast-check';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import request from 'supertest';
import { infraControlPlanePlugin } from './plugin';
import {
  REPO_ROOT,
  RUNTIME_PATH,
  createFakeProductControlPlane,
  makePlan,
  pluginHeader,
} from './__testUtils__';

jest.setTimeout(300_000);

const API = '/api/infra-control-plane';
const databases = createTestDatabases();
const RUNS = 1500;
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);

const { executionId: _id, ...planBody } = makePlan();
/** Every route of the infra control plane router, with a valid body to mutate. */
const ROUTES: Array<{
  method: string;
  path: string;
  body?: Record<string, unknown>;
}> = [
  {
    method: 'POST',
    path: '/executions',
    body: { executionId: 'x', ...planBody },
  },
  { method: 'GET', path: '/executions/:id' },
  { method: 'POST', path: '/executions/:id/cancel' },
  { method: 'GET', path: '/executions/:id/logs' },
  { method: 'GET', path: '/health' },
  { method: 'GET', path: '/capacity' },
];
const QUERY_KEYS = ['agentRef', 'after', 'limit', 'follow'];
const REAL_PARAMS = [
  'exec-1',
  'agent:default/summarizer',
  'agent%3Adefault%2Fsummarizer',
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

/**
 * What is wrong with a response: a 5xx, a 4xx whose body does not name the
 * problem, or (production mode) a stack trace or an absolute path in it.
 */
function problemOf(res: { status: number; body?: any; text?: string }) {
  if (res.status >= 500) return `status ${res.status}: ${res.text}`;
  if (res.status >= 400 && !/\S/.test(String(res.body?.error?.message ?? ''))) {
    return `status ${res.status} without error.message: ${res.text}`;
  }
  if (res.body?.error?.stack !== undefined || res.text?.includes(REPO_ROOT)) {
    return `status ${res.status} with a stack or a path: ${res.text}`;
  }
  return undefined;
}

describe.each(databases.eachSupportedId())(
  'infra control plane router under fuzzed input, in production mode, on %p',
  databaseId => {
    let server: any;
    let backend: Awaited<ReturnType<typeof startTestBackend>>;
    const nodeEnv = process.env.NODE_ENV;

    beforeAll(async () => {
      const knex = await databases.init(databaseId);
      // Backstage's error handler reads NODE_ENV when the plugin starts.
      process.env.NODE_ENV = 'production';
      try {
        backend = await startTestBackend({
          features: [
            infraControlPlanePlugin,
            catalogServiceMock.factory(),
            createFakeProductControlPlane().plugin,
            mockServices.database.factory({ knex }),
            mockServices.rootConfig.factory({
              data: {
                infraControlPlane: {
                  executor: 'local',
                  local: { runtimePath: RUNTIME_PATH, maxConcurrency: 1 },
                },
              },
            }),
          ],
        });
      } finally {
        process.env.NODE_ENV = nodeEnv;
      }
      server = backend.server;
    });

    afterAll(async () => {
      await backend?.stop();
    });

    const peer = pluginHeader('product-control-plane');

    it('answers errors without a stack or a path, with their name and message', async () => {
      for (const payload of ['{"executionId": ', '{"executionId": 42}']) {
        const res = await request(server)
          .post(`${API}/executions`)
          .set({ authorization: peer, 'content-type': 'application/json' })
          .send(payload);
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({
          name: expect.stringMatching(/Error$/),
          message: expect.stringMatching(/\S/),
        });
        expect(Object.keys(res.body.error)).not.toContain('stack');
        expect(res.text).not.toContain(REPO_ROOT);
      }
    });

    it.each([
      ['agentRef[toString]=x', 200], // a plain (unknown) key now, not an object
      ['agentRef=agent%3Adefault%2F', 400],
      ['agentRef=%20', 400],
    ])('answers /capacity?%s with %p', async (search, status) => {
      const res = await request(server)
        .get(`${API}/capacity?${search}`)
        .set('authorization', peer);
      expect(res.status).toBe(status);
      expect(problemOf(res)).toBeUndefined();
    });

    it('refuses a plan nested 5,000 levels deep with a 400', async () => {
      const res = await request(server)
        .post(`${API}/executions`)
        .set({ authorization: peer, 'content-type': 'application/json' })
        .send(
          JSON.stringify({ ...planBody, executionId: 'deep' }).replace(
            '"input":{',
            `"input":{"a":${'['.repeat(5000)}${']'.repeat(5000)},`,
          ),
        );
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain('nests deeper than 64 levels');
    });

    it(`answers ${RUNS} malformed requests below 500, naming the problem of every 4xx (seed ${SEED})`, async () => {
      const auth: Record<string, string | undefined> = {
        none: undefined,
        user: mockCredentials.user.header('user:default/ada'),
        peer,
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
        `infra control plane fuzz on ${databaseId}: ${total} requests, statuses ${JSON.stringify(
          Object.fromEntries(statuses),
        )}`,
      );
      expect(total).toBe(RUNS);
    });
  },
);
