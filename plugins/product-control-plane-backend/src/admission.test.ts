import { createTestDatabases } from '@internal/test-helpers';
import request from 'supertest';
import {
  agent,
  createFakes,
  postUpdate,
  startPlugin,
  userHeader,
} from './__testUtils__/harness';

jest.setTimeout(600_000);

const API = '/api/product-control-plane';
const LIMIT = 3;
const QUOTA = 50;
const REQUESTS = 200;

const entities = [
  agent('hot', {
    plans: [
      { name: 'team', pricing: 'free', concurrency: LIMIT, runsPerDay: QUOTA },
    ],
  }),
];

describe('admission under concurrent requests', () => {
  const databases = createTestDatabases();

  it.each(databases.eachSupportedId())(
    'admits exactly the quota and never more than the concurrency limit, on %p',
    async databaseId => {
      const knex = await databases.init(databaseId);
      const fakes = createFakes(entities);
      // Every caller runs under the same team entitlement.
      const entitle = fakes.entitle;
      fakes.entitle = req => {
        const answer = entitle(req);
        return answer.allowed
          ? {
              ...answer,
              holderRef: 'group:default/team-a',
              entitlementId: 'ent-team-a',
            }
          : answer;
      };
      const { server } = await startPlugin({ knex, entities, fakes });
      const activeInDb = async () =>
        Number(
          (
            await knex('pcp_executions')
              .whereIn('state', ['queued', 'dispatched', 'running'])
              .count({ n: '*' })
          )[0].n,
        );

      // 200 callers; each retries while the answer is "concurrency limit"
      // and stops at 202 or "daily quota".
      let pending = Array.from({ length: REQUESTS }, (_, i) => i);
      const admitted: string[] = [];
      let quotaRefusals = 0;
      let concurrencyRefusals = 0;
      let waves = 0;
      while (pending.length) {
        waves++;
        const answers = await Promise.all(
          pending.map(i =>
            request(server)
              .post(`${API}/executions`)
              .set('authorization', userHeader(`member-${i % 10}`))
              .send({
                agentRef: 'agent:default/hot',
                input: { text: `request ${i}` },
              })
              .then(res => ({ i, res })),
          ),
        );
        const concurrency = answers.filter(a =>
          String(a.res.body.error?.message).includes('[holder-concurrency]'),
        );
        const quota = answers.filter(a =>
          String(a.res.body.error?.message).includes('[daily-quota]'),
        );
        const wave = answers
          .filter(a => a.res.status === 202)
          .map(a => a.res.body.id as string);
        // Every answer is 202 or a 429 naming the limit.
        expect(wave.length + concurrency.length + quota.length).toBe(
          answers.length,
        );
        expect(
          [...concurrency, ...quota].every(a => a.res.status === 429),
        ).toBe(true);
        expect(new Set(concurrency.map(a => a.res.body.error.message))).toEqual(
          new Set(
            concurrency.length
              ? [
                  `Plan team allows ${LIMIT} concurrent runs of agent:default/hot for group:default/team-a, ${LIMIT} are active; try again when one finishes [holder-concurrency]`,
                ]
              : [],
          ),
        );
        expect(new Set(quota.map(a => a.res.body.error.message))).toEqual(
          new Set(
            quota.length
              ? [
                  `Plan team allows ${QUOTA} runs per day of agent:default/hot for group:default/team-a; today's quota is used up [daily-quota]`,
                ]
              : [],
          ),
        );
        concurrencyRefusals += concurrency.length;
        quotaRefusals += quota.length;
        const next = concurrency.map(a => a.i);
        // Exact counters: each burst admits precisely the free slots.
        expect(wave.length).toBe(Math.min(LIMIT, QUOTA - admitted.length));
        expect(await activeInDb()).toBe(wave.length);
        admitted.push(...wave);
        for (const id of wave) {
          expect(
            (await postUpdate(server, id, { state: 'running' })).status,
          ).toBe(200);
          expect(
            (await postUpdate(server, id, { state: 'succeeded' })).status,
          ).toBe(200);
        }
        pending = next;
      }

      expect(admitted).toHaveLength(QUOTA);
      expect(new Set(admitted).size).toBe(QUOTA);
      expect(quotaRefusals).toBe(REQUESTS - QUOTA);
      expect(concurrencyRefusals).toBeGreaterThan(0);
      expect(waves).toBeGreaterThanOrEqual(Math.ceil(QUOTA / LIMIT));
      const [{ n }] = await knex('pcp_executions')
        .where({ agent_ref: 'agent:default/hot' })
        .count({ n: '*' });
      expect(Number(n)).toBe(QUOTA);
      // Every admitted run has its audit trail and exactly one dispatch row.
      const [{ events }] = await knex('pcp_execution_events').count({
        events: '*',
      });
      expect(Number(events)).toBeGreaterThanOrEqual(QUOTA * 3);
      const [{ dispatches }] = await knex('pcp_outbox')
        .where({ kind: 'dispatch' })
        .count({ dispatches: '*' });
      expect(Number(dispatches)).toBe(QUOTA);
    },
  );
});
