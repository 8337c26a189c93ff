import { createTestDatabases } from '@internal/test-helpers';
import request from 'supertest';
import {
  agent,
  createFakes,
  eventually,
  Fakes,
  infraHeader,
  postUpdate,
  startPlugin,
  userHeader,
} from './__testUtils__/harness';
import { mockCredentials } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import { ExecutionStore } from './database/ExecutionStore';

jest.setTimeout(120_000);

const API = '/api/product-control-plane';

const entities = [
  agent('summarizer'),
  agent('paid', {
    plans: [
      { name: 'per-run', pricing: 'per-run', price: 0.25, runsPerDay: 100 },
      {
        name: 'metered',
        pricing: 'metered',
        price: 0.01,
        maxTimeoutSeconds: 60,
      },
    ],
  }),
  agent('preview-agent', { visibility: 'preview' }),
  agent('disabled-agent', {
    annotations: { 'agentplatform.dev/disabled': 'true' },
  }),
  agent('quota', {
    plans: [{ name: 'tiny', pricing: 'free', runsPerDay: 2, concurrency: 1 }],
  }),
  agent('owned', { spec: { owner: 'user:default/olivia' } as any }),
  agent('slow', { spec: { resources: { timeoutSeconds: 3600 } } as any }),
  agent('versioned'),
  agent('capped'),
  {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name: 'not-an-agent', namespace: 'default' },
    spec: {
      type: 'service',
      owner: 'group:default/x',
      lifecycle: 'production',
    },
  },
];

describe('product control plane', () => {
  const databases = createTestDatabases();

  describe.each(databases.eachSupportedId())('on %p', databaseId => {
    let server: any;
    let fakes: Fakes;
    let knex: Knex;

    beforeAll(async () => {
      knex = await databases.init(databaseId);
      fakes = createFakes(entities);
      ({ server } = await startPlugin({
        knex,
        entities,
        fakes,
        config: {
          sync: { maxWaitSeconds: 2 },
          policy: {
            defaultAgentConcurrency: 1000,
            userConcurrency: 3,
            agents: [
              {
                agentRef: 'agent:default/capped',
                concurrency: 1,
                tools: ['llm'],
              },
            ],
          },
        },
      }));
    });

    // Each test runs as its own user, so per-user limits do not leak between tests.
    const me = () =>
      `u${require('node:crypto')
        .createHash('sha1')
        .update(expect.getState().currentTestName ?? '')
        .digest('hex')
        .slice(0, 10)}`;
    const run = (body: Record<string, unknown>, user = me()) =>
      request(server)
        .post(`${API}/executions`)
        .set('authorization', userHeader(user))
        .send(body);
    const get = (id: string, user = me()) =>
      request(server)
        .get(`${API}/executions/${id}`)
        .set('authorization', userHeader(user));
    const finish = async (id: string) => {
      await postUpdate(server, id, { state: 'running' });
      expect(
        (await postUpdate(server, id, { state: 'succeeded' })).status,
      ).toBe(200);
    };
    const waitFor = (id: string, state: string) =>
      eventually(async () => {
        const res = await get(id);
        return res.body.state === state ? res.body : undefined;
      });

    it('runs an agent end to end: queued, dispatched, running, succeeded, with cost, usage and audit trail', async () => {
      const res = await run({
        agentRef: 'agent:default/paid',
        input: { text: 'hello' },
        plan: 'per-run',
      });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({
        agentRef: 'agent:default/paid',
        agentVersion: '1.2.0',
        userRef: `user:default/${me()}`,
        plan: 'per-run',
        state: 'queued',
        resources: { cpu: '500m', memory: '256Mi', timeoutSeconds: 120 },
      });
      const id = res.body.id;
      await waitFor(id, 'dispatched');
      const plan = fakes.plans.find(p => p.executionId === id)!;
      expect(plan).toMatchObject({
        attempt: 1,
        agentRef: 'agent:default/paid',
        agentVersion: '1.2.0',
        image: 'registry.example.com/paid:1.2.0',
        entrypoint: 'index.js',
        codeDir: '/srv/catalog/agents/paid',
        input: { text: 'hello' },
        requestedBy: `user:default/${me()}`,
        plan: 'per-run',
        tools: [
          { name: 'llm' },
          { name: 'http', allowHosts: [] },
          { name: 'catalog' },
        ],
      });
      // Declared and provided by the platform only; UNPROVIDED is left out.
      expect(plan.secrets).toEqual([
        {
          name: 'GITHUB_TOKEN',
          source: 'platform',
          ref: 'GITHUB_TOKEN',
        },
      ]);

      const started = new Date(Date.now() - 4000).toISOString();
      expect(
        (await postUpdate(server, id, { state: 'running', at: started }))
          .status,
      ).toBe(200);
      const done = await postUpdate(server, id, {
        state: 'succeeded',
        exitCode: 0,
        result: { summary: 'hi' },
        computeSeconds: 3.5,
      });
      expect(done.status).toBe(200);
      const record = (await get(id)).body;
      expect(record).toMatchObject({
        state: 'succeeded',
        result: { summary: 'hi' },
        computeSeconds: 3.5,
        cost: 0.25,
        exitCode: 0,
        startedAt: started,
      });
      expect(record.durationMs).toBeGreaterThanOrEqual(3900);
      const usage = await eventually(() =>
        fakes.usage.find(u => u.executionId === id),
      );
      expect(usage).toMatchObject({
        agentRef: 'agent:default/paid',
        userRef: `user:default/${me()}`,
        holderRef: `user:default/${me()}`,
        plan: 'per-run',
        state: 'succeeded',
        computeSeconds: 3.5,
        cost: 0.25,
      });
      const audit = await request(server)
        .get(`${API}/executions/${id}/audit`)
        .set('authorization', userHeader(me()));
      expect(
        audit.body.items.map((e: any) => [
          e.fromState ?? null,
          e.toState,
          e.actor,
        ]),
      ).toEqual([
        [null, 'queued', `user:default/${me()}`],
        ['queued', 'dispatched', 'dispatcher'],
        ['dispatched', 'running', 'infra-control-plane'],
        ['running', 'succeeded', 'infra-control-plane'],
      ]);
    });

    it('charges metered runs per compute-second and caps the timeout at the plan', async () => {
      const res = await run({
        agentRef: 'agent:default/paid',
        input: { text: 'x' },
        plan: 'metered',
      });
      expect(res.status).toBe(202);
      expect(res.body.resources.timeoutSeconds).toBe(60);
      const id = res.body.id;
      await postUpdate(server, id, { state: 'running' });
      await postUpdate(server, id, {
        state: 'failed',
        exitReason: 'agent-error',
        exitCode: 1,
        computeSeconds: 12,
      });
      expect((await get(id)).body).toMatchObject({
        state: 'failed',
        cost: 0.12,
        exitReason: 'agent-error',
      });
    });

    it.each([
      [
        'no credentials',
        (r: request.Test) =>
          r.set('authorization', mockCredentials.none.header()),
        {},
        401,
        /./,
      ],
      [
        'a bad body',
        (r: request.Test) => r.set('authorization', userHeader(me())),
        { agentRef: 'agent:default/summarizer', mode: 'later' },
        400,
        /mode/,
      ],
      [
        'an unknown field',
        (r: request.Test) => r.set('authorization', userHeader(me())),
        {
          agentRef: 'agent:default/summarizer',
          input: { text: 'a' },
          colour: 'red',
        },
        400,
        /colour/,
      ],
      [
        'an unknown agent',
        (r: request.Test) => r.set('authorization', userHeader(me())),
        { agentRef: 'agent:default/nope', input: {} },
        404,
        /agent:default\/nope not found/,
      ],
      [
        'a non-agent entity',
        (r: request.Test) => r.set('authorization', userHeader(me())),
        { agentRef: 'component:default/not-an-agent', input: {} },
        400,
        /is a Component, not an Agent/,
      ],
      [
        'a preview agent',
        (r: request.Test) => r.set('authorization', userHeader(me())),
        { agentRef: 'agent:default/preview-agent', input: { text: 'a' } },
        409,
        /preview/,
      ],
      [
        'a disabled agent',
        (r: request.Test) => r.set('authorization', userHeader(me())),
        { agentRef: 'agent:default/disabled-agent', input: { text: 'a' } },
        409,
        /disabled/,
      ],
      [
        'a missing input field',
        (r: request.Test) => r.set('authorization', userHeader(me())),
        { agentRef: 'agent:default/summarizer', input: { count: 0 } },
        400,
        /input\.text is required.*input\.count must be >= 1/,
      ],
      [
        'an unknown version',
        (r: request.Test) => r.set('authorization', userHeader(me())),
        {
          agentRef: 'agent:default/summarizer',
          input: { text: 'a' },
          version: '9.9.9',
        },
        400,
        /version "9\.9\.9" matches no known version.*known: 1\.2\.0/,
      ],
      [
        'a version that is not semver',
        (r: request.Test) => r.set('authorization', userHeader(me())),
        {
          agentRef: 'agent:default/summarizer',
          input: { text: 'a' },
          version: 'newest!',
        },
        400,
        /neither a version nor a semver range/,
      ],
      [
        'more cpu than allowed',
        (r: request.Test) => r.set('authorization', userHeader(me())),
        {
          agentRef: 'agent:default/summarizer',
          input: { text: 'a' },
          resources: { cpu: '2' },
        },
        400,
        /resources\.cpu 2 exceeds the allowed 500m/,
      ],
      [
        'more memory than allowed',
        (r: request.Test) => r.set('authorization', userHeader(me())),
        {
          agentRef: 'agent:default/summarizer',
          input: { text: 'a' },
          resources: { memory: '1Gi' },
        },
        400,
        /resources\.memory 1Gi exceeds the allowed 256Mi/,
      ],
      [
        'a longer timeout than allowed',
        (r: request.Test) => r.set('authorization', userHeader(me())),
        {
          agentRef: 'agent:default/summarizer',
          input: { text: 'a' },
          resources: { timeoutSeconds: 121 },
        },
        400,
        /resources\.timeoutSeconds 121 exceeds the allowed 120/,
      ],
      [
        'a bad quantity',
        (r: request.Test) => r.set('authorization', userHeader(me())),
        {
          agentRef: 'agent:default/summarizer',
          input: { text: 'a' },
          resources: { cpu: 'lots' },
        },
        400,
        /not a CPU quantity/,
      ],
      [
        'sync for a long run',
        (r: request.Test) => r.set('authorization', userHeader(me())),
        { agentRef: 'agent:default/slow', input: { text: 'a' }, mode: 'sync' },
        400,
        /mode sync is only allowed for runs with a timeout of at most 300 s/,
      ],
      [
        'an unknown plan',
        (r: request.Test) => r.set('authorization', userHeader(me())),
        {
          agentRef: 'agent:default/summarizer',
          input: { text: 'a' },
          plan: 'gold',
        },
        403,
        /No plan gold \[plan-not-found\]/,
      ],
    ])(
      'refuses %s with a clear %p',
      async (_what, auth, body, status, message) => {
        const res = await auth(request(server).post(`${API}/executions`)).send(
          body,
        );
        expect(res.status).toBe(status);
        expect(res.body.error.message).toMatch(message);
      },
    );

    it('refuses when the marketplace does not entitle the caller', async () => {
      const original = fakes.entitle;
      fakes.entitle = () => ({
        allowed: false,
        code: 'not-entitled',
        reason: 'No active entitlement for agent:default/summarizer',
      });
      try {
        const res = await run({
          agentRef: 'agent:default/summarizer',
          input: { text: 'a' },
        });
        expect(res.status).toBe(403);
        expect(res.body.error.message).toBe(
          'No active entitlement for agent:default/summarizer [not-entitled]',
        );
        expect(fakes.checks.at(-1)).toEqual({
          agentRef: 'agent:default/summarizer',
          userRef: `user:default/${me()}`,
          ownershipRefs: [`user:default/${me()}`],
        });
      } finally {
        fakes.entitle = original;
      }
    });

    it('enforces concurrency and the daily quota per plan with 429', async () => {
      const first = await run(
        { agentRef: 'agent:default/quota', input: { text: 'a' } },
        'quinn',
      );
      expect(first.status).toBe(202);
      const second = await run(
        { agentRef: 'agent:default/quota', input: { text: 'a' } },
        'quinn',
      );
      expect(second.status).toBe(429);
      expect(second.body.error.message).toMatch(
        /Plan tiny allows 1 concurrent runs .* \[holder-concurrency\]/,
      );
      await finish(first.body.id);
      expect(
        (
          await run(
            { agentRef: 'agent:default/quota', input: { text: 'a' } },
            'quinn',
          )
        ).status,
      ).toBe(202);
      const cancelled = (
        await request(server)
          .get(
            `${API}/executions?agentRef=agent:default/quota&state=queued,dispatched`,
          )
          .set('authorization', userHeader('quinn'))
      ).body.items[0];
      await postUpdate(server, cancelled.id, { state: 'failed' });
      const third = await run(
        { agentRef: 'agent:default/quota', input: { text: 'a' } },
        'quinn',
      );
      expect(third.status).toBe(429);
      expect(third.body.error.message).toMatch(
        /allows 2 runs per day .* \[daily-quota\]/,
      );
    });

    it('enforces the agent-wide and per-user concurrency from config with 429', async () => {
      const first = await run(
        { agentRef: 'agent:default/capped', input: { text: 'a' } },
        'carl',
      );
      expect(first.status).toBe(202);
      expect(first.body.tools).toEqual([{ name: 'llm' }]);
      const other = await run(
        { agentRef: 'agent:default/capped', input: { text: 'a' } },
        'cora',
      );
      expect(other.status).toBe(429);
      expect(other.body.error.message).toMatch(
        /agent:default\/capped already has 1 active runs \(limit 1\).*\[agent-concurrency\]/,
      );
      for (const name of ['summarizer', 'paid']) {
        expect(
          (
            await run(
              {
                agentRef: `agent:default/${name}`,
                input: { text: 'a' },
                ...(name === 'paid' ? { plan: 'per-run' } : {}),
              },
              'carl',
            )
          ).status,
        ).toBe(202);
      }
      const fourth = await run(
        { agentRef: 'agent:default/owned', input: { text: 'a' } },
        'carl',
      );
      expect(fourth.status).toBe(429);
      expect(fourth.body.error.message).toMatch(
        /user:default\/carl already has 3 active runs \(limit 3\).*\[user-concurrency\]/,
      );
    });

    it('resolves exact versions, ranges and latest against the versions seen', async () => {
      // The catalog holds 1.2.0; 1.0.0 and 1.3.0 were seen before.
      for (const [version, image] of [
        ['1.0.0', 'old:1.0.0'],
        ['1.3.0', 'new:1.3.0'],
      ]) {
        await knex('pcp_agent_versions').insert({
          agent_ref: 'agent:default/versioned',
          version,
          spec_json: JSON.stringify({
            ...agent('versioned').spec,
            version,
            runtime: { image, entrypoint: 'main.js' },
          }),
          first_seen_at: new Date().toISOString(),
          last_seen_at: new Date().toISOString(),
        });
      }
      const resolve = async (version?: string) => {
        const res = await run({
          agentRef: 'agent:default/versioned',
          input: { text: 'v' },
          ...(version ? { version } : {}),
        });
        expect(res.status).toBe(202);
        await finish(res.body.id);
        return [res.body.agentVersion, res.body.image];
      };
      expect(await resolve('1.0.0')).toEqual(['1.0.0', 'old:1.0.0']);
      expect(await resolve('~1.2')).toEqual([
        '1.2.0',
        'registry.example.com/versioned:1.2.0',
      ]);
      expect(await resolve('^1.0.0')).toEqual(['1.3.0', 'new:1.3.0']);
      expect(await resolve()).toEqual(['1.3.0', 'new:1.3.0']);
      const d = await run({
        agentRef: 'agent:default/versioned',
        input: { text: 'v' },
        version: '>=2',
      });
      expect(d.status).toBe(400);
      expect(d.body.error.message).toBe(
        'version ">=2" matches no known version of agent:default/versioned (known: 1.0.0, 1.2.0, 1.3.0)',
      );
    });

    it('creates one execution per idempotency key, and refuses the key for another request', async () => {
      const body = {
        agentRef: 'agent:default/summarizer',
        input: { text: 'same' },
      };
      const a = await run({ ...body, idempotencyKey: 'key-1' });
      const b = await request(server)
        .post(`${API}/executions`)
        .set('authorization', userHeader(me()))
        .set('Idempotency-Key', 'key-1')
        .send(body);
      expect(a.status).toBe(202);
      expect(b.status).toBe(202);
      expect(b.headers['idempotent-replay']).toBe('true');
      expect(b.body.id).toBe(a.body.id);
      const list = await request(server)
        .get(`${API}/executions?agentRef=agent:default/summarizer&limit=200`)
        .set('authorization', userHeader(me()));
      expect(
        list.body.items.filter((e: any) => e.idempotencyKey === 'key-1'),
      ).toHaveLength(1);
      const c = await run({
        ...body,
        input: { text: 'other' },
        idempotencyKey: 'key-1',
      });
      expect(c.status).toBe(409);
      expect(c.body.error.message).toMatch(
        /already used for a different request/,
      );
      // Concurrent repeats of a new key still make one execution.
      const many = await Promise.all(
        Array.from({ length: 10 }, () =>
          run({ ...body, idempotencyKey: 'key-2' }),
        ),
      );
      expect(new Set(many.map(r => r.body.id)).size).toBe(1);
      expect(many.every(r => r.status === 202)).toBe(true);
    });

    it('refuses illegal transitions with 409 and ignores repeated updates', async () => {
      const { body } = await run({
        agentRef: 'agent:default/summarizer',
        input: { text: 'a' },
      });
      expect(
        (await postUpdate(server, body.id, { state: 'running' })).status,
      ).toBe(200);
      const repeat = await postUpdate(server, body.id, { state: 'running' });
      expect(repeat.status).toBe(200);
      expect(repeat.body).toEqual({ state: 'running', changed: false });
      const back = await postUpdate(server, body.id, { state: 'dispatched' });
      expect(back.status).toBe(409);
      expect(back.body.error.message).toMatch(
        /cannot go from running to dispatched/,
      );
      expect(
        (
          await postUpdate(server, body.id, {
            state: 'timed_out',
            exitReason: 'deadline-exceeded',
          })
        ).status,
      ).toBe(200);
      for (const state of ['running', 'succeeded', 'failed', 'cancelled']) {
        const res = await postUpdate(server, body.id, { state });
        expect(res.status).toBe(409);
        expect(res.body.error.message).toMatch(
          `cannot go from timed_out to ${state}`,
        );
      }
      expect(
        (await postUpdate(server, body.id, { state: 'succeeded', attempt: 2 }))
          .status,
      ).toBe(409);
      expect(
        (await postUpdate(server, body.id, { state: 'queued' })).status,
      ).toBe(400);
      // Users cannot post updates.
      const asUser = await request(server)
        .post(`${API}/internal/executions/${body.id}/updates`)
        .set('authorization', userHeader(me()))
        .send({
          executionId: body.id,
          attempt: 1,
          state: 'succeeded',
          at: new Date().toISOString(),
        });
      expect(asUser.status).toBe(403);
      expect((await get(body.id)).body.state).toBe('timed_out');
    });

    it('walks every legal path of the state machine', async () => {
      const paths = [
        ['dispatched', 'succeeded'],
        ['dispatched', 'failed'],
        ['dispatched', 'cancelled'],
        ['dispatched', 'timed_out'],
        ['dispatched', 'running', 'cancelled'],
        ['running', 'failed'],
        ['failed'],
        ['timed_out'],
      ];
      for (const path of paths) {
        const { body } = await run({
          agentRef: 'agent:default/summarizer',
          input: { text: 'a' },
        });
        for (const state of path) {
          const res = await postUpdate(server, body.id, { state });
          // The dispatcher may have moved it to dispatched already.
          expect([200]).toContain(res.status);
        }
        expect((await get(body.id)).body.state).toBe(path[path.length - 1]);
      }
    });

    it('cancels a queued run at once and a running one through the infra plane', async () => {
      fakes.infraStatus = 503;
      const queued = await run({
        agentRef: 'agent:default/summarizer',
        input: { text: 'a' },
      });
      const cancelled = await request(server)
        .post(`${API}/executions/${queued.body.id}/cancel`)
        .set('authorization', userHeader(me()));
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({
        state: 'cancelled',
        exitReason: 'cancelled-by-user',
        cost: 0,
      });
      fakes.infraStatus = 202;

      const running = await run({
        agentRef: 'agent:default/summarizer',
        input: { text: 'b' },
      });
      await waitFor(running.body.id, 'dispatched');
      await postUpdate(server, running.body.id, { state: 'running' });
      const asked = await request(server)
        .post(`${API}/executions/${running.body.id}/cancel`)
        .set('authorization', userHeader(me()));
      expect(asked.status).toBe(202);
      expect(asked.body.cancelRequestedBy).toBe(`user:default/${me()}`);
      await eventually(() => fakes.cancels.includes(running.body.id));
      await postUpdate(server, running.body.id, {
        state: 'cancelled',
        exitReason: 'cancelled-by-user',
      });
      expect((await get(running.body.id)).body.state).toBe('cancelled');
      const again = await request(server)
        .post(`${API}/executions/${running.body.id}/cancel`)
        .set('authorization', userHeader(me()));
      expect(again.status).toBe(409);
      expect(again.body.error.message).toMatch(/already cancelled/);
      // Someone else's run does not exist for bob.
      const bob = await request(server)
        .post(`${API}/executions/${running.body.id}/cancel`)
        .set('authorization', userHeader('bob'));
      expect(bob.status).toBe(404);
    });

    it('retries a finished run as a new execution linked to it', async () => {
      const { body } = await run({
        agentRef: 'agent:default/paid',
        input: { text: 'r' },
        plan: 'metered',
      });
      const early = await request(server)
        .post(`${API}/executions/${body.id}/retry`)
        .set('authorization', userHeader(me()));
      expect(early.status).toBe(409);
      await postUpdate(server, body.id, {
        state: 'failed',
        exitReason: 'agent-error',
      });
      const retry = await request(server)
        .post(`${API}/executions/${body.id}/retry`)
        .set('authorization', userHeader(me()));
      expect(retry.status).toBe(202);
      expect(retry.body).toMatchObject({
        retryOf: body.id,
        agentRef: 'agent:default/paid',
        agentVersion: '1.2.0',
        plan: 'metered',
        input: { text: 'r' },
        state: 'queued',
      });
      expect(retry.body.id).not.toBe(body.id);
    });

    it('answers sync requests with the result, or 202 when the bound passes', async () => {
      // supertest sends on then(); start it now.
      const pending = run({
        agentRef: 'agent:default/summarizer',
        input: { text: 'sync' },
        mode: 'sync',
      }).then(r => r);
      const plan = await eventually(() =>
        fakes.plans.find(p => (p.input as any).text === 'sync'),
      );
      await postUpdate(server, plan.executionId, { state: 'running' });
      await postUpdate(server, plan.executionId, {
        state: 'succeeded',
        result: { ok: true },
      });
      const res = await pending;
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        state: 'succeeded',
        result: { ok: true },
      });

      const slow = await run({
        agentRef: 'agent:default/summarizer',
        input: { text: 'sync-slow' },
        mode: 'sync',
      });
      expect(slow.status).toBe(202);
      expect(['queued', 'dispatched']).toContain(slow.body.state);
    });

    it('keeps plans in the outbox until the infra plane takes them', async () => {
      fakes.infraStatus = 503;
      const { body } = await run({
        agentRef: 'agent:default/summarizer',
        input: { text: 'outbox' },
      });
      await new Promise(r => setTimeout(r, 300));
      expect((await get(body.id)).body.state).toBe('queued');
      expect(fakes.plans.some(p => p.executionId === body.id)).toBe(false);
      fakes.infraStatus = 202;
      // The next run triggers a pass; the backed-off row is due once its time comes.
      let kicks = 0;
      await eventually(async () => {
        await new Promise(r => setTimeout(r, 300));
        await run(
          { agentRef: 'agent:default/summarizer', input: { text: 'kick' } },
          `kicker-${kicks++}`,
        );
        return fakes.plans.some(p => p.executionId === body.id) || undefined;
      }, 15_000);
      await waitFor(body.id, 'dispatched');
    });

    it('rejects a run whose plan the infra plane refuses', async () => {
      fakes.infraStatus = 400;
      const { body } = await run({
        agentRef: 'agent:default/summarizer',
        input: { text: 'refused' },
      });
      const rejected = await waitFor(body.id, 'rejected');
      fakes.infraStatus = 202;
      expect(rejected).toMatchObject({ exitReason: 'infra-rejected', cost: 0 });
      expect(rejected.message).toMatch(/infra says no/);
    });

    it('bounds the stored result', async () => {
      const { body } = await run({
        agentRef: 'agent:default/summarizer',
        input: { text: 'big' },
      });
      await postUpdate(server, body.id, { state: 'running' });
      await postUpdate(server, body.id, {
        state: 'succeeded',
        result: { blob: 'x'.repeat(1024 * 1024 + 10) },
      });
      const record = (await get(body.id)).body;
      expect(record.result).toBeUndefined();
      expect(record.resultTruncated).toBe(true);
      expect(record.message).toMatch(/exceeds the 1048576 byte limit/);
    });

    it('stores user secrets write-only and grants them before platform ones', async () => {
      const secretPath = `${API}/secrets/${encodeURIComponent(
        'agent:default/summarizer',
      )}`;
      const put = await request(server)
        .put(`${secretPath}/OPENAI_API_KEY`)
        .set('authorization', userHeader('sam'))
        .send({ value: 'sk-user-secret-value' });
      expect(put.status).toBe(204);
      await request(server)
        .put(`${secretPath}/GITHUB_TOKEN`)
        .set('authorization', userHeader('sam'))
        .send({ value: 'gh-user-secret-value' });
      const bad = await request(server)
        .put(`${secretPath}/not a name`)
        .set('authorization', userHeader('sam'))
        .send({ value: 'x' });
      expect(bad.status).toBe(400);
      const names = await request(server)
        .get(secretPath)
        .set('authorization', userHeader('sam'));
      expect(names.body).toEqual({
        user: [
          { name: 'GITHUB_TOKEN', updatedAt: expect.any(String) },
          { name: 'OPENAI_API_KEY', updatedAt: expect.any(String) },
        ],
        platform: ['GITHUB_TOKEN'],
      });
      const { body } = await run(
        { agentRef: 'agent:default/summarizer', input: { text: 's' } },
        'sam',
      );
      expect(body.secrets).toEqual([
        { name: 'OPENAI_API_KEY', source: 'user' },
        { name: 'GITHUB_TOKEN', source: 'user' },
      ]);
      const fetched = await request(server)
        .get(`${API}/internal/executions/${body.id}/secrets`)
        .set('authorization', infraHeader());
      expect(fetched.body.secrets).toEqual([
        { name: 'OPENAI_API_KEY', value: 'sk-user-secret-value' },
        { name: 'GITHUB_TOKEN', value: 'gh-user-secret-value' },
      ]);
      const notInfra = await request(server)
        .get(`${API}/internal/executions/${body.id}/secrets`)
        .set('authorization', mockCredentials.service.header());
      expect(notInfra.status).toBe(403);
      const asUser = await request(server)
        .get(`${API}/internal/executions/${body.id}/secrets`)
        .set('authorization', userHeader('sam'));
      expect(asUser.status).toBe(403);
      // No API answer carries the value.
      for (const res of [
        names,
        await get(body.id, 'sam'),
        await request(server)
          .get(`${API}/executions`)
          .set('authorization', userHeader('sam')),
      ]) {
        expect(JSON.stringify(res.body)).not.toContain('secret-value');
      }
      const plan = await eventually(() =>
        fakes.plans.find(p => p.executionId === body.id),
      );
      expect(JSON.stringify(plan)).not.toContain('secret-value');
      expect(plan.secrets.map(s => s.source)).toEqual(['user', 'user']);
      await finish(body.id);
      const after = await request(server)
        .get(`${API}/internal/executions/${body.id}/secrets`)
        .set('authorization', infraHeader());
      expect(after.status).toBe(409);
      expect(
        (
          await request(server)
            .delete(`${secretPath}/OPENAI_API_KEY`)
            .set('authorization', userHeader('sam'))
        ).status,
      ).toBe(204);
      expect(
        (
          await request(server)
            .delete(`${secretPath}/OPENAI_API_KEY`)
            .set('authorization', userHeader('sam'))
        ).status,
      ).toBe(404);
    });

    it('shows runs to their requester and to the agent owner only, filtered and paginated', async () => {
      const ids: string[] = [];
      for (const user of ['una', 'una', 'una', 'vic']) {
        const res = await run(
          { agentRef: 'agent:default/owned', input: { text: user } },
          user,
        );
        ids.push(res.body.id);
        await finish(res.body.id);
      }
      const una = await request(server)
        .get(`${API}/executions?agentRef=agent:default/owned&limit=2`)
        .set('authorization', userHeader('una'));
      expect(una.body.totalCount).toBe(3);
      expect(una.body.items).toHaveLength(2);
      const page2 = await request(server)
        .get(`${API}/executions?agentRef=agent:default/owned&limit=2&offset=2`)
        .set('authorization', userHeader('una'));
      expect(page2.body.items).toHaveLength(1);
      const owner = await request(server)
        .get(`${API}/executions?agentRef=agent:default/owned`)
        .set('authorization', userHeader('olivia'));
      expect(owner.body.totalCount).toBe(4);
      const byUser = await request(server)
        .get(
          `${API}/executions?agentRef=agent:default/owned&user=user:default/vic`,
        )
        .set('authorization', userHeader('olivia'));
      expect(byUser.body.items.map((e: any) => e.id)).toEqual([ids[3]]);
      const byState = await request(server)
        .get(`${API}/executions?agentRef=agent:default/owned&state=failed`)
        .set('authorization', userHeader('olivia'));
      expect(byState.body.totalCount).toBe(0);
      expect((await get(ids[3], 'una')).status).toBe(404);
      expect((await get(ids[3], 'olivia')).status).toBe(200);
      const badState = await request(server)
        .get(`${API}/executions?state=done`)
        .set('authorization', userHeader('una'));
      expect(badState.status).toBe(400);
      expect(badState.body.error.message).toMatch(/state/);
    });

    it('deletes finished runs past retention with their trail, and keeps active ones', async () => {
      const old = await run({
        agentRef: 'agent:default/summarizer',
        input: { text: 'old' },
      });
      await finish(old.body.id);
      const active = await run({
        agentRef: 'agent:default/summarizer',
        input: { text: 'active' },
      });
      const longAgo = new Date(Date.now() - 200 * 86_400_000).toISOString();
      await knex('pcp_executions')
        .whereIn('id', [old.body.id, active.body.id])
        .update({ created_at: longAgo });
      const store = new ExecutionStore(knex);
      const deleted = await store.deleteFinishedBefore(
        new Date(Date.now() - 90 * 86_400_000).toISOString(),
      );
      expect(deleted).toBeGreaterThanOrEqual(1);
      expect((await get(old.body.id)).status).toBe(404);
      expect(
        await knex('pcp_execution_events').where('execution_id', old.body.id),
      ).toEqual([]);
      expect((await get(active.body.id)).status).toBe(200);
    });

    it('proxies logs and streams state changes and log lines as server-sent events', async () => {
      const { body } = await run({
        agentRef: 'agent:default/summarizer',
        input: { text: 'logs' },
      });
      fakes.logs[body.id] = [
        {
          ts: new Date().toISOString(),
          level: 'info',
          message: 'hello from the agent',
        },
      ];
      const logs = await request(server)
        .get(`${API}/executions/${body.id}/logs`)
        .set('authorization', userHeader(me()));
      expect(logs.body.lines[0].message).toBe('hello from the agent');

      const abort = new AbortController();
      const port = server.address().port;
      const response = await fetch(
        `http://localhost:${port}${API}/executions/${body.id}/events`,
        {
          headers: { authorization: userHeader(me()) },
          signal: abort.signal,
        },
      );
      expect(response.headers.get('content-type')).toMatch(
        /text\/event-stream/,
      );
      let text = '';
      const reader = response.body!.getReader();
      const reading = (async () => {
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            text += new TextDecoder().decode(value);
          }
        } catch {
          // aborted
        }
      })();
      await eventually(
        () => text.includes('hello from the agent') || undefined,
      );
      fakes.logs[body.id].push({
        ts: new Date().toISOString(),
        level: 'info',
        message: 'second line',
      });
      await eventually(() => text.includes('second line') || undefined);
      expect(text.split('hello from the agent').length - 1).toBe(1);
      await postUpdate(server, body.id, { state: 'running' });
      await postUpdate(server, body.id, {
        state: 'succeeded',
        result: { n: 1 },
      });
      await eventually(() => text.includes('"state":"succeeded"') || undefined);
      expect(text).toMatch(
        /event: state\ndata: .*"state":"(queued|dispatched)"/,
      );
      expect(text).toMatch(/event: log\ndata: .*hello from the agent/);
      abort.abort();
      await reading;
    });
  });

  it('refuses runs and reads the permission framework denies', async () => {
    const me = () => 'denied';
    const knex = await databases.init('SQLITE_3');
    const { server } = await startPlugin({
      knex,
      entities,
      permissions: 'deny',
    });
    const res = await request(server)
      .post(`${API}/executions`)
      .set('authorization', userHeader(me()))
      .send({ agentRef: 'agent:default/summarizer', input: { text: 'a' } });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(/agent\.execution\.create/);
    const list = await request(server)
      .get(`${API}/executions`)
      .set('authorization', userHeader(me()));
    expect(list.status).toBe(403);
  });
});
