import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { createTestDatabases } from '@internal/test-helpers';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import request from 'supertest';
import { infraControlPlanePlugin } from './plugin';
import {
  RUNTIME_PATH,
  createFakeProductControlPlane,
  fixtureDir,
  agentDir,
  makePlan,
  updatesOf,
  waitFor,
} from './__testUtils__';

jest.setTimeout(120_000);

const SERVICE = mockCredentials.service.header({
  onBehalfOf: mockCredentials.service('plugin:product-control-plane'),
  targetPluginId: 'infra-control-plane',
});
const databases = createTestDatabases();

describe.each(databases.eachSupportedId())(
  'infra control plane, local executor (%p)',
  databaseId => {
    let server: any;
    let pcp: ReturnType<typeof createFakeProductControlPlane>;
    let backend: Awaited<ReturnType<typeof startTestBackend>>;

    const stateOf = async (id: string) =>
      (
        await request(server)
          .get(`/api/infra-control-plane/executions/${id}`)
          .set('authorization', SERVICE)
      ).body;

    const finalUpdate = (id: string) =>
      waitFor(
        () =>
          updatesOf(pcp.received, id).find(u =>
            ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(u.state),
          ),
        `a terminal update for ${id}`,
        60_000,
      );

    beforeAll(async () => {
      const knex = await databases.init(databaseId);
      pcp = createFakeProductControlPlane();
      backend = await startTestBackend({
        features: [
          infraControlPlanePlugin,
          catalogServiceMock.factory(),
          pcp.plugin,
          mockServices.database.factory({ knex }),
          mockServices.rootConfig.factory({
            data: {
              infraControlPlane: {
                executor: 'local',
                secrets: { 'api-token': 'sk-test-0123456789abcdef' },
                logs: { maxBytes: 4000 },
                local: {
                  runtimePath: RUNTIME_PATH,
                  maxConcurrency: 2,
                  killGraceSeconds: 1,
                  timeoutGraceSeconds: 1,
                },
              },
            },
          }),
        ],
      });
      server = backend.server;
    });

    afterAll(async () => {
      await backend?.stop();
    });

    it('runs the real summarizer agent to succeeded, with its logs and result, idempotently', async () => {
      const plan = makePlan();
      const first = await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', SERVICE)
        .send(plan);
      expect(first.status).toBe(202);
      expect(first.body.executionId).toBe(plan.executionId);

      const again = await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', SERVICE)
        .send(plan);
      expect(again.status).toBe(200);

      const done = await finalUpdate(plan.executionId);
      expect(done).toMatchObject({
        state: 'succeeded',
        attempt: 1,
        exitCode: 0,
        result: { sentences: 2 },
      });
      expect(typeof done.computeSeconds).toBe('number');
      const states = updatesOf(pcp.received, plan.executionId).map(
        u => u.state,
      );
      expect(states).toEqual(['dispatched', 'running', 'succeeded']);

      const logs = await request(server)
        .get(`/api/infra-control-plane/executions/${plan.executionId}/logs`)
        .set('authorization', SERVICE);
      expect(logs.status).toBe(200);
      const messages = logs.body.lines.map((l: any) => l.message);
      expect(messages.join('\n')).toContain('Summarizing');
      expect(messages[0]).toMatch(/^started agent:default\/summarizer@1.4.0/);
      expect(logs.body.truncated).toBe(false);

      const record = await stateOf(plan.executionId);
      expect(record.state).toBe('succeeded');
      expect(record.result.summary).toEqual(expect.any(String));
    });

    it('refuses callers that are not services, and bad plans with a 400 naming the field', async () => {
      const plan = makePlan();
      const anonymous = await request(server)
        .post('/api/infra-control-plane/executions')
        .send(plan);
      // The test backend treats a missing token as a default user: refused too.
      expect([401, 403]).toContain(anonymous.status);
      const user = await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', mockCredentials.user.header())
        .send(plan);
      expect(user.status).toBe(403);

      const bad = await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', SERVICE)
        .send({
          ...plan,
          resources: { cpu: '1', memory: 'lots', timeoutSeconds: 0 },
        });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(/resources\.memory/);
      expect(bad.body.error.message).toMatch(/resources\.timeoutSeconds/);

      const conflict = await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', SERVICE)
        .send(plan);
      expect(conflict.status).toBe(202);
      const otherAttempt = await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', SERVICE)
        .send({ ...plan, attempt: 2 });
      expect(otherAttempt.status).toBe(409);
      await finalUpdate(plan.executionId);
    });

    it('reports an agent error as failed with the runtime error code', async () => {
      const plan = makePlan({
        agentRef: 'agent:default/always-fails',
        codeDir: agentDir('always-fails'),
        input: { message: 'boom on purpose' },
      });
      await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', SERVICE)
        .send(plan)
        .expect(202);
      const done = await finalUpdate(plan.executionId);
      expect(done).toMatchObject({
        state: 'failed',
        exitReason: 'agent-error',
        exitCode: 1,
      });
      expect(done.message).toContain('boom on purpose');
    });

    it('reports a crashed agent process (killed by a signal) as failed', async () => {
      const plan = makePlan({ codeDir: fixtureDir('crash'), input: {} });
      await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', SERVICE)
        .send(plan)
        .expect(202);
      const done = await finalUpdate(plan.executionId);
      expect(done.state).toBe('failed');
      expect(done.exitReason).toBe('agent-crashed');
      expect(done.message).toMatch(/SIGKILL/);
    });

    it('times out through the runtime (timed_out, not failed)', async () => {
      const plan = makePlan({
        agentRef: 'agent:default/slow-counter',
        codeDir: agentDir('slow-counter'),
        input: { steps: 100, intervalMs: 200 },
        resources: { cpu: '100m', memory: '64Mi', timeoutSeconds: 1 },
      });
      await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', SERVICE)
        .send(plan)
        .expect(202);
      const done = await finalUpdate(plan.executionId);
      expect(done.state).toBe('timed_out');
      expect(done.exitReason).toBe('deadline-exceeded');
    });

    it('kills an agent that blocks its event loop once the deadline passes (SIGTERM, then SIGKILL)', async () => {
      const plan = makePlan({
        codeDir: fixtureDir('hang'),
        input: {},
        resources: { cpu: '100m', memory: '64Mi', timeoutSeconds: 1 },
      });
      const started = Date.now();
      await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', SERVICE)
        .send(plan)
        .expect(202);
      const done = await finalUpdate(plan.executionId);
      expect(done.state).toBe('timed_out');
      // timeout 1s + grace 1s + kill grace 1s, never the runtime's own exit.
      expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
    });

    it('cancels a running agent', async () => {
      const plan = makePlan({
        agentRef: 'agent:default/slow-counter',
        codeDir: agentDir('slow-counter'),
        input: { steps: 100, intervalMs: 200 },
      });
      await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', SERVICE)
        .send(plan)
        .expect(202);
      await waitFor(
        () =>
          updatesOf(pcp.received, plan.executionId).find(
            u => u.state === 'running',
          ),
        'running',
      );
      // Let it make some progress first.
      await waitFor(async () => {
        const logs = await request(server)
          .get(`/api/infra-control-plane/executions/${plan.executionId}/logs`)
          .set('authorization', SERVICE);
        return logs.body.lines.some((l: any) => /progress/.test(l.message));
      }, 'live progress lines');
      const cancel = await request(server)
        .post(`/api/infra-control-plane/executions/${plan.executionId}/cancel`)
        .set('authorization', SERVICE);
      expect(cancel.status).toBe(202);
      const done = await finalUpdate(plan.executionId);
      expect(done).toMatchObject({
        state: 'cancelled',
        exitReason: 'cancelled-by-user',
      });

      const repeat = await request(server)
        .post(`/api/infra-control-plane/executions/${plan.executionId}/cancel`)
        .set('authorization', SERVICE);
      expect(repeat.body.state).toBe('cancelled');
      const missing = await request(server)
        .post('/api/infra-control-plane/executions/no-such-run/cancel')
        .set('authorization', SERVICE);
      expect(missing.status).toBe(404);
    });

    it('gives granted secrets as files and redacts their values from stored logs and results', async () => {
      const plan = makePlan({
        codeDir: fixtureDir('leaky'),
        input: {},
        secrets: [{ name: 'API_TOKEN', source: 'platform', ref: 'api-token' }],
      });
      await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', SERVICE)
        .send(plan)
        .expect(202);
      const done = await finalUpdate(plan.executionId);
      expect(done.state).toBe('succeeded');
      expect(done.result).toEqual({ length: 24, echoed: 'token=[REDACTED]' });
      const logs = await request(server)
        .get(`/api/infra-control-plane/executions/${plan.executionId}/logs`)
        .set('authorization', SERVICE);
      const text = JSON.stringify(logs.body);
      expect(text).toContain('raw line with [REDACTED] inside');
      expect(text).not.toContain('sk-test-0123456789abcdef');
      expect(JSON.stringify(pcp.received)).not.toContain(
        'sk-test-0123456789abcdef',
      );
    });

    it('resolves user secrets through the product control plane', async () => {
      const plan = makePlan({
        codeDir: fixtureDir('leaky'),
        input: {},
        secrets: [
          { name: 'API_TOKEN', source: 'user', ref: 'user:ada/api-token' },
        ],
      });
      pcp.userSecrets.set(plan.executionId, [
        { name: 'API_TOKEN', value: 'ada-own-secret-value' },
      ]);
      await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', SERVICE)
        .send(plan)
        .expect(202);
      const done = await finalUpdate(plan.executionId);
      expect(done).toMatchObject({
        state: 'succeeded',
        result: { length: 20 },
      });
      const logs = await request(server)
        .get(`/api/infra-control-plane/executions/${plan.executionId}/logs`)
        .set('authorization', SERVICE);
      expect(JSON.stringify(logs.body)).not.toContain('ada-own-secret-value');
    });

    it('ends a run whose granted secret cannot be resolved with secret-missing', async () => {
      const plan = makePlan({
        codeDir: fixtureDir('leaky'),
        input: {},
        secrets: [
          {
            name: 'API_TOKEN',
            source: 'user',
            ref: 'nobody-registered-a-resolver',
          },
        ],
      });
      await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', SERVICE)
        .send(plan)
        .expect(202);
      const done = await finalUpdate(plan.executionId);
      expect(done).toMatchObject({
        state: 'failed',
        exitReason: 'secret-missing',
      });
    });

    it('keeps at most the configured log bytes, with a truncation marker', async () => {
      const plan = makePlan({
        codeDir: fixtureDir('chatty'),
        input: { lines: 200 },
      });
      await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', SERVICE)
        .send(plan)
        .expect(202);
      const done = await finalUpdate(plan.executionId);
      expect(done.state).toBe('succeeded');
      const logs = await request(server)
        .get(`/api/infra-control-plane/executions/${plan.executionId}/logs`)
        .set('authorization', SERVICE);
      expect(logs.body.truncated).toBe(true);
      const lines = logs.body.lines;
      expect(lines[lines.length - 1].message).toMatch(
        /^\[log truncated: the limit of 4000 bytes/,
      );
      const kept = lines
        .slice(0, -1)
        .reduce((n: number, l: any) => n + Buffer.byteLength(l.message), 0);
      expect(kept).toBeLessThanOrEqual(4000);
      expect(lines.length).toBeLessThan(60);
    });

    it('queues runs beyond the concurrency cap and reports capacity', async () => {
      const plans = [1, 2, 3].map(() =>
        makePlan({
          agentRef: 'agent:default/slow-counter',
          codeDir: agentDir('slow-counter'),
          input: { steps: 3, intervalMs: 300 },
        }),
      );
      for (const plan of plans) {
        await request(server)
          .post('/api/infra-control-plane/executions')
          .set('authorization', SERVICE)
          .send(plan)
          .expect(202);
      }
      const health = await request(server).get(
        '/api/infra-control-plane/health',
      );
      expect(health.status).toBe(200);
      expect(health.body.readiness.executor).toMatchObject({
        kind: 'local',
        running: 2,
        queued: 1,
        capacity: 2,
      });
      const third = await stateOf(plans[2].executionId);
      expect(third.state).toBe('dispatched');
      const capacity = await request(server)
        .get(
          '/api/infra-control-plane/capacity?agentRef=agent:default/slow-counter',
        )
        .set('authorization', SERVICE);
      expect(capacity.body.agents).toEqual([
        expect.objectContaining({
          agentRef: 'agent:default/slow-counter',
          status: 'available',
        }),
      ]);
      for (const plan of plans) {
        expect((await finalUpdate(plan.executionId)).state).toBe('succeeded');
      }
    });

    it('retries update delivery until the product control plane accepts it', async () => {
      pcp.state.failNext = 3;
      const refusedBefore = pcp.state.refused;
      const plan = makePlan();
      await request(server)
        .post('/api/infra-control-plane/executions')
        .set('authorization', SERVICE)
        .send(plan)
        .expect(202);
      const done = await finalUpdate(plan.executionId);
      expect(done.state).toBe('succeeded');
      expect(pcp.state.refused - refusedBefore).toBe(3);
      expect(
        updatesOf(pcp.received, plan.executionId).map(u => u.state),
      ).toEqual(['dispatched', 'running', 'succeeded']);
      expect(pcp.state.unauthenticated).toBe(0);
    });
  },
);
