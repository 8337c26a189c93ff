import request from 'supertest';
import { mockCredentials } from '@backstage/backend-test-utils';
import { Entity } from '@backstage/catalog-model';
import { createTestDatabases } from '@internal/test-helpers';
import { exampleEntities, pluginHeader, startMarketplaceBackend } from './__testUtils__/testBackend';

jest.setTimeout(120_000);

const databases = createTestDatabases();

const user = (name: string) => mockCredentials.user.header(`user:default/${name}`);
/** The product control plane, the marketplace's one service caller of /entitlements/check and /usage. */
const service = () => pluginHeader('product-control-plane');

/** A runnable agent with a tiny subscription quota, to test "used up". */
const quotaAgent: Entity = {
  apiVersion: 'agentplatform.dev/v1alpha1',
  kind: 'Agent',
  metadata: { name: 'quota-agent', title: 'Quota Agent', description: 'Test agent with a small quota', tags: ['test'] },
  spec: {
    owner: 'group:data-team',
    lifecycle: 'production',
    version: '1.0.0',
    runtime: { image: 'registry.example.com/agents/quota:1.0.0', entrypoint: 'index.js' },
    input: { type: 'object' },
    marketplace: {
      visibility: 'internal',
      plans: [
        { name: 'sub', title: 'Subscription', pricing: 'subscription', price: 5, includedRuns: 2, runsPerDay: 10, concurrency: 1 },
      ],
    },
  },
};

describe.each(databases.eachSupportedId())('marketplace backend on %s', databaseId => {
  let server: any;
  let backend: Awaited<ReturnType<typeof startMarketplaceBackend>>;

  beforeAll(async () => {
    const knex = await databases.init(databaseId);
    backend = await startMarketplaceBackend({ knex, entities: exampleEntities([quotaAgent]) });
    server = backend.server;
    // Wait until the catalog has processed every agent, then index them.
    for (let i = 0; i < 120; i++) {
      const res = await request(server)
        .get('/api/catalog/entities/by-query?filter=kind=agent&limit=100')
        .set('Authorization', service());
      if (res.status === 200 && res.body.items.length === 9) break;
      await new Promise(r => setTimeout(r, 500));
    }
    const refreshed = await request(server).post('/api/marketplace/refresh').set('Authorization', service());
    if (refreshed.body?.upserted !== 9) {
      throw new Error(`Expected 9 indexed agents, got ${JSON.stringify(refreshed.body)}`);
    }
  });

  afterAll(async () => {
    await backend?.stop();
  });

  const names = (res: request.Response) => res.body.items.map((i: any) => i.name).sort();

  it('lets only platform admins (and the platform itself) re-read every listing', async () => {
    const refused = await request(server).post('/api/marketplace/refresh').set('Authorization', user('ada'));
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('Only platform admins may re-read every listing');
    expect((await request(server).post('/api/marketplace/refresh')).status).toBe(401);
  });

  describe('visibility in discovery', () => {
    it('shows public and preview listings to anonymous callers', async () => {
      const res = await request(server).get('/api/marketplace/agents?pageSize=100');
      expect(res.status).toBe(200);
      expect(names(res)).toEqual(['http-fetcher', 'sentiment-preview', 'slow-counter', 'summarizer']);
    });

    it('adds internal listings for signed-in users and private ones for owners and allowed groups', async () => {
      const grace = await request(server).get('/api/marketplace/agents?pageSize=100').set('Authorization', user('grace'));
      expect(names(grace)).not.toContain('llm-assistant');
      expect(names(grace)).toEqual(expect.arrayContaining(['catalog-health', 'data-profiler', 'quota-agent']));
      for (const allowed of ['guest', 'ada', 'linus']) {
        const res = await request(server).get('/api/marketplace/agents?pageSize=100').set('Authorization', user(allowed));
        expect(names(res)).toContain('llm-assistant');
      }
      const byService = await request(server).get('/api/marketplace/agents?pageSize=100').set('Authorization', service());
      expect(byService.body.totalCount).toBe(9);
    });

    it('hides a private listing page from non-members with a 404', async () => {
      const hidden = await request(server).get('/api/marketplace/agents/default/llm-assistant').set('Authorization', user('grace'));
      expect(hidden.status).toBe(404);
      expect(hidden.body.error.message).toContain('agent:default/llm-assistant');
      const shown = await request(server).get('/api/marketplace/agents/default/llm-assistant').set('Authorization', user('guest'));
      expect(shown.status).toBe(200);
      expect(shown.body.plans[0].priceText).toBe('$0.05 per run');
    });

    it('filters, searches, sorts and pages on the server', async () => {
      const q = await request(server).get('/api/marketplace/agents?q=summary&pageSize=10').set('Authorization', user('grace'));
      expect(names(q)).toEqual(['summarizer']);
      const tags = await request(server).get('/api/marketplace/agents?tags=nlp&pricing=per-run').set('Authorization', user('guest'));
      expect(names(tags)).toEqual(['llm-assistant', 'summarizer']);
      const owner = await request(server).get('/api/marketplace/agents?owner=group:default/ml-team&visibility=preview').set('Authorization', user('guest'));
      expect(names(owner)).toEqual(['sentiment-preview']);
      const page2 = await request(server).get('/api/marketplace/agents?sort=name&page=2&pageSize=3').set('Authorization', service());
      expect(page2.body.totalCount).toBe(9);
      expect(page2.body.items.map((i: any) => i.title)).toEqual(['HTTP Fetcher', 'LLM Assistant', 'Quota Agent']);
    });

    it('names the problem in a bad query', async () => {
      const res = await request(server).get('/api/marketplace/agents?sort=price&pageSize=1000');
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/sort/);
      expect(res.body.error.message).toMatch(/pageSize/);
    });
  });

  describe('visibility in the catalog API', () => {
    const catalogAgents = async (as: string) => {
      const res = await request(server)
        .get('/api/catalog/entities/by-query?filter=kind=agent&limit=100')
        .set('Authorization', user(as));
      expect(res.body.error?.message).toBeUndefined();
      return res.body.items.map((e: Entity) => e.metadata.name).sort();
    };

    it('hides private agents from non-members, keeps everything else', async () => {
      expect(await catalogAgents('grace')).not.toContain('llm-assistant');
      expect(await catalogAgents('grace')).toHaveLength(8);
      expect(await catalogAgents('guest')).toContain('llm-assistant');
      expect(await catalogAgents('ada')).toContain('llm-assistant');
      const byName = await request(server).get('/api/catalog/entities/by-name/agent/default/llm-assistant').set('Authorization', user('grace'));
      expect(byName.status).toBe(404);
      const groups = await request(server).get('/api/catalog/entities/by-query?filter=kind=group').set('Authorization', user('grace'));
      expect(groups.body.items.length).toBe(4);
    });

    it('follows the owner visibility override in discovery and in the catalog', async () => {
      const notOwner = await request(server)
        .put('/api/marketplace/agents/default/summarizer/visibility')
        .set('Authorization', user('grace'))
        .send({ visibility: 'private' });
      expect(notOwner.status).toBe(403);

      const changed = await request(server)
        .put('/api/marketplace/agents/default/summarizer/visibility')
        .set('Authorization', user('ada'))
        .send({ visibility: 'private' });
      expect(changed.status).toBe(200);
      expect(await catalogAgents('grace')).not.toContain('summarizer');
      const discovery = await request(server).get('/api/marketplace/agents?pageSize=100').set('Authorization', user('grace'));
      expect(names(discovery)).not.toContain('summarizer');
      expect(await catalogAgents('ada')).toContain('summarizer');

      const llmPublic = await request(server)
        .put('/api/marketplace/agents/default/llm-assistant/visibility')
        .set('Authorization', user('ada'))
        .send({ visibility: 'internal' });
      expect(llmPublic.status).toBe(200);
      expect(await catalogAgents('grace')).toContain('llm-assistant');

      // Back to the catalog YAML.
      for (const agent of ['summarizer', 'llm-assistant']) {
        await request(server)
          .put(`/api/marketplace/agents/default/${agent}/visibility`)
          .set('Authorization', user('ada'))
          .send({ visibility: null })
          .expect(200);
      }
      expect(await catalogAgents('grace')).toContain('summarizer');
      expect(await catalogAgents('grace')).not.toContain('llm-assistant');
    });
  });

  describe('entitlements', () => {
    const acquire = (as: string, body: object) =>
      request(server).post('/api/marketplace/entitlements').set('Authorization', user(as)).send(body);
    const check = (body: object) =>
      request(server).post('/api/marketplace/entitlements/check').set('Authorization', service()).send(body);
    const graceCheck = (agent: string, extra: object = {}) =>
      check({ agentRef: `agent:default/${agent}`, userRef: 'user:default/grace', ownershipRefs: ['user:default/grace', 'group:default/data-team'], ...extra });

    it('acquires, switches, cancels with an audit trail, and the check follows', async () => {
      expect((await graceCheck('summarizer')).body).toMatchObject({ allowed: false, code: 'not-entitled' });

      const created = await acquire('grace', { agentRef: 'agent:default/summarizer', plan: 'free' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ holderRef: 'user:default/grace', plan: 'free', status: 'active' });
      const id = created.body.id;

      const ok = await graceCheck('summarizer');
      expect(ok.body).toMatchObject({ allowed: true, entitlementId: id, holderRef: 'user:default/grace', plan: { name: 'free', runsPerDay: 20 } });

      const switched = await request(server).patch(`/api/marketplace/entitlements/${id}`).set('Authorization', user('grace')).send({ plan: 'pro' });
      expect(switched.body.plan).toBe('pro');
      expect((await graceCheck('summarizer')).body.plan.name).toBe('pro');
      expect((await graceCheck('summarizer', { plan: 'free' })).body).toMatchObject({ allowed: false, code: 'not-entitled' });
      expect((await graceCheck('summarizer', { plan: 'gold' })).body).toMatchObject({ allowed: false, code: 'plan-not-found' });

      const mine = await request(server).get('/api/marketplace/entitlements?mine').set('Authorization', user('grace'));
      expect(mine.body.items.map((e: any) => [e.agentRef, e.plan, e.planDetails.priceText])).toEqual([
        ['agent:default/summarizer', 'pro', '$0.02 per run'],
      ]);

      const otherCancel = await request(server).post(`/api/marketplace/entitlements/${id}/cancel`).set('Authorization', user('linus'));
      expect(otherCancel.status).toBe(403);
      const cancelled = await request(server).delete(`/api/marketplace/entitlements/${id}`).set('Authorization', user('grace'));
      expect(cancelled.body.status).toBe('cancelled');
      expect((await graceCheck('summarizer')).body).toMatchObject({ allowed: false, code: 'cancelled' });

      const audit = await request(server).get(`/api/marketplace/entitlements/${id}/audit`).set('Authorization', user('grace'));
      expect(audit.body.items.map((a: any) => [a.action, a.actorRef, a.before?.plan ?? null, a.after.plan, a.after.status])).toEqual([
        ['acquire', 'user:default/grace', null, 'free', 'active'],
        ['switch', 'user:default/grace', 'free', 'pro', 'active'],
        ['cancel', 'user:default/grace', 'pro', 'pro', 'cancelled'],
      ]);

      // Acquiring again after cancelling works.
      expect((await acquire('grace', { agentRef: 'agent:default/summarizer', plan: 'free' })).status).toBe(201);
    });

    it('lets owners grant and revoke, and reports expiry', async () => {
      // ada is not in data-team, the owner of data-profiler: she may not grant.
      const denied = await acquire('ada', { agentRef: 'agent:default/data-profiler', plan: 'team', holderRef: 'user:default/linus' });
      expect(denied.status).toBe(403);
      expect(denied.body.error.message).toContain('user:default/linus');

      const granted = await acquire('grace', {
        agentRef: 'agent:default/data-profiler',
        plan: 'team',
        holderRef: 'user:default/ada',
        expiresAt: new Date(Date.now() - 60_000).toISOString(),
      });
      expect(granted.status).toBe(201);
      const adaCheck = await check({ agentRef: 'agent:default/data-profiler', userRef: 'user:default/ada', ownershipRefs: ['group:default/ml-team'] });
      expect(adaCheck.body).toMatchObject({ allowed: false, code: 'expired' });

      const revoke = await request(server).post(`/api/marketplace/entitlements/${granted.body.id}/revoke`).set('Authorization', user('ada'));
      expect(revoke.status).toBe(403);
      const revoked = await request(server).post(`/api/marketplace/entitlements/${granted.body.id}/revoke`).set('Authorization', user('grace'));
      expect(revoked.body.status).toBe('revoked');
      const after = await check({ agentRef: 'agent:default/data-profiler', userRef: 'user:default/ada', ownershipRefs: ['group:default/ml-team'] });
      expect(after.body).toMatchObject({ allowed: false, code: 'cancelled' });

      const publishing = await request(server).get('/api/marketplace/publishing').set('Authorization', user('grace'));
      expect(publishing.body.items.map((i: any) => i.name).sort()).toEqual(['data-profiler', 'quota-agent']);
    });

    it('answers team plans, not-visible, not-runnable and agent-not-found', async () => {
      const team = await acquire('linus', { agentRef: 'agent:default/llm-assistant', plan: 'per-run', holderRef: 'group:default/platform-team' });
      expect(team.status).toBe(201);
      const guestCheck = await check({ agentRef: 'agent:default/llm-assistant', userRef: 'user:default/guest', ownershipRefs: ['group:default/platform-team'] });
      expect(guestCheck.body).toMatchObject({ allowed: true, holderRef: 'group:default/platform-team' });
      expect((await graceCheck('llm-assistant')).body).toMatchObject({ allowed: false, code: 'not-visible' });

      expect((await acquire('grace', { agentRef: 'agent:default/sentiment-preview', plan: 'early-access' })).status).toBe(201);
      expect((await graceCheck('sentiment-preview')).body).toMatchObject({ allowed: false, code: 'not-runnable' });
      expect((await graceCheck('nope')).body).toMatchObject({ allowed: false, code: 'agent-not-found' });

      const notService = await request(server).post('/api/marketplace/entitlements/check').set('Authorization', user('grace')).send({});
      expect(notService.status).toBe(403);
    });

    it('refuses when a subscription quota is used up', async () => {
      const ent = await acquire('grace', { agentRef: 'agent:default/quota-agent', plan: 'sub' });
      expect(ent.status).toBe(201);
      for (const n of [1, 2]) {
        expect((await graceCheck('quota-agent')).body.allowed).toBe(true);
        await request(server).post('/api/marketplace/usage').set('Authorization', service()).send({
          executionId: `quota-${n}`, agentRef: 'agent:default/quota-agent', userRef: 'user:default/grace', holderRef: 'user:default/grace',
          plan: 'sub', state: 'succeeded', finishedAt: new Date().toISOString(), computeSeconds: 1, cost: 0,
        }).expect(201);
      }
      expect((await graceCheck('quota-agent')).body).toMatchObject({ allowed: false, code: 'not-entitled', reason: expect.stringContaining('used up') });
    });

    it('names the problem in bad requests', async () => {
      const unknownAgent = await acquire('grace', { agentRef: 'agent:default/nope', plan: 'free' });
      expect(unknownAgent.status).toBe(404);
      expect(unknownAgent.body.error.message).toContain('agent:default/nope');
      const unknownPlan = await acquire('grace', { agentRef: 'agent:default/http-fetcher', plan: 'gold' });
      expect(unknownPlan.status).toBe(400);
      expect(unknownPlan.body.error.message).toContain('Plan "gold" not found');
      const malformed = await acquire('grace', { agentRef: 42 });
      expect(malformed.status).toBe(400);
      expect(malformed.body.error.message).toMatch(/agentRef/);
      expect(malformed.body.error.message).toMatch(/plan/);
      const anonymous = await request(server).post('/api/marketplace/entitlements').send({ agentRef: 'agent:default/summarizer', plan: 'free' });
      expect(anonymous.status).toBe(401);
    });

    it('keeps one active entitlement under 20 concurrent acquisitions', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, () => acquire('linus', { agentRef: 'agent:default/http-fetcher', plan: 'metered' })),
      );
      const statuses = results.map(r => r.status).sort();
      expect(statuses.filter(s => s === 201)).toHaveLength(1);
      expect(statuses.filter(s => s === 409)).toHaveLength(19);
      const mine = await request(server).get('/api/marketplace/entitlements?mine').set('Authorization', user('linus'));
      expect(mine.body.items.filter((e: any) => e.agentRef === 'agent:default/http-fetcher')).toHaveLength(1);
    });
  });

  describe('usage and availability', () => {
    const usage = (executionId: string, state: string, extra: object = {}) =>
      request(server).post('/api/marketplace/usage').set('Authorization', service()).send({
        executionId, agentRef: 'agent:default/always-fails', userRef: 'user:default/ada', holderRef: 'user:default/ada',
        plan: 'free', state, startedAt: new Date(Date.now() - 4000).toISOString(), finishedAt: new Date().toISOString(),
        computeSeconds: 4, cost: 0.5, ...extra,
      });
    const availability = async () =>
      (await request(server).get('/api/marketplace/agents/default/always-fails').set('Authorization', user('ada'))).body;

    it('records usage once per execution and reports it per user, holder and agent', async () => {
      expect((await usage('u-1', 'succeeded')).status).toBe(201);
      const repeat = await usage('u-1', 'succeeded');
      expect(repeat.status).toBe(200);
      expect(repeat.body.recorded).toBe(false);
      const res = await request(server).get('/api/marketplace/usage').set('Authorization', user('ada'));
      expect(res.body.user).toMatchObject({ runs: 1, computeSeconds: 4, cost: 0.5 });
      expect(res.body.byAgent).toEqual([{ key: 'agent:default/always-fails', runs: 1, computeSeconds: 4, cost: 0.5 }]);
      const bad = await usage('u-x', 'exploded');
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(/state/);
    });

    it('is degraded after 3 consecutive failures and recovers after a success', async () => {
      expect((await availability()).availability).toBe('unknown');
      for (const id of ['f-1', 'f-2', 'f-3']) await usage(id, 'failed').expect(201);
      const degraded = await availability();
      expect(degraded.availability).toBe('degraded');
      expect(degraded.successRate).toBeCloseTo(1 / 4);
      expect(degraded.typicalDurationSeconds).toBeCloseTo(4, 0);
      const filtered = await request(server).get('/api/marketplace/agents?availability=degraded').set('Authorization', user('ada'));
      expect(names(filtered)).toEqual(['always-fails']);
      const popular = await request(server).get('/api/marketplace/agents?sort=popularity&pageSize=1').set('Authorization', user('ada'));
      expect(names(popular)).toEqual(['always-fails']);
      await usage('s-1', 'succeeded').expect(201);
      expect((await availability()).availability).toBe('unknown');
    });
  });
});
