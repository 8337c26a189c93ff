import {
  createTestDatabases,
  fuzzRequests,
  responseProblem,
  sendFuzzRequest,
} from '@internal/test-helpers';
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

const request$ = (auth: Record<string, string | undefined>) =>
  fuzzRequests({
    routes: ROUTES,
    queryKeys: QUERY_KEYS,
    realParams: REAL_PARAMS,
    auth,
  });
/** A 5xx, or a 4xx whose body does not name the problem. */
const problemOf = (res: { status: number; body?: any; text?: string }) =>
  responseProblem(res);

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
          const res = await sendFuzzRequest(server, API, r, auth);
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
