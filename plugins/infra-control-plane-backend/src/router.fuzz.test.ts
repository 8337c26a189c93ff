import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import {
  createTestDatabases,
  fuzzRequests,
  responseProblem,
  sendFuzzRequest,
} from '@internal/test-helpers';
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

const request$ = (auth: Record<string, string | undefined>) =>
  fuzzRequests({
    routes: ROUTES,
    queryKeys: QUERY_KEYS,
    realParams: REAL_PARAMS,
    auth,
  });
/** A 5xx, a 4xx without a message, or (production mode) a stack or the repository path. */
const problemOf = (res: { status: number; body?: any; text?: string }) =>
  responseProblem(res, { forbiddenText: REPO_ROOT });

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
          const res = await sendFuzzRequest(server, API, r, auth);
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
