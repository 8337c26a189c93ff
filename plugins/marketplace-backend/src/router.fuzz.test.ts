import fc from 'fast-check';
import request from 'supertest';
import { mockCredentials } from '@backstage/backend-test-utils';
import {
  createTestDatabases,
  fuzzRequests,
  responseProblem,
  sendFuzzRequest,
} from '@internal/test-helpers';
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
          const res = await sendFuzzRequest(
            server,
            '/api/marketplace',
            r,
            auth,
          );
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
