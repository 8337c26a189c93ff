import { createTestDatabases } from '@internal/test-helpers';
import { Knex } from 'knex';
import request from 'supertest';
import {
  agent,
  createFakes,
  eventually,
  Fakes,
  postUpdate,
  startPlugin,
  userHeader,
} from './__testUtils__/harness';

jest.setTimeout(120_000);

const API = '/api/product-control-plane';
const TASK = 'product-control-plane-stuck-runs';

const entities = [
  agent('summarizer'), // timeout 120 s
  agent('paid', {
    plans: [
      {
        name: 'metered',
        pricing: 'metered',
        price: 0.01,
        maxTimeoutSeconds: 60,
      },
    ],
  }),
  agent('capped'),
];

describe('stuck-run sweeper', () => {
  const databases = createTestDatabases();

  describe.each(databases.eachSupportedId())('on %p', databaseId => {
    let server: any;
    let fakes: Fakes;
    let knex: Knex;
    const tasks = new Map<string, () => Promise<void>>();

    beforeAll(async () => {
      knex = await databases.init(databaseId);
      fakes = createFakes(entities);
      ({ server } = await startPlugin({
        knex,
        entities,
        fakes,
        tasks,
        config: {
          stuckRunGraceSeconds: 60,
          policy: {
            agents: [{ agentRef: 'agent:default/capped', concurrency: 1 }],
          },
        },
      }));
    });

    const sweep = () => tasks.get(TASK)!();
    const run = (user: string, body: Record<string, unknown>) =>
      request(server)
        .post(`${API}/executions`)
        .set('authorization', userHeader(user))
        .send(body);
    const get = async (user: string, id: string) =>
      (
        await request(server)
          .get(`${API}/executions/${id}`)
          .set('authorization', userHeader(user))
      ).body;
    const trail = async (user: string, id: string) =>
      (
        await request(server)
          .get(`${API}/executions/${id}/audit`)
          .set('authorization', userHeader(user))
      ).body.items;
    /** Starts a run and waits until the infra plane has taken it. */
    const dispatched = async (user: string, body: Record<string, unknown>) => {
      const res = await run(user, body);
      expect(res.status).toBe(202);
      await eventually(
        async () => (await get(user, res.body.id)).state === 'dispatched',
      );
      return res.body.id as string;
    };
    /** Moves the run's dispatch or start `secondsAgo` into the past. */
    const backdate = (
      id: string,
      column: 'dispatched_at' | 'started_at' | 'created_at',
      secondsAgo: number,
    ) =>
      knex('pcp_executions')
        .where('id', id)
        .update({
          [column]: new Date(Date.now() - secondsAgo * 1000).toISOString(),
        });

    it('is scheduled', () => {
      expect(tasks.has(TASK)).toBe(true);
    });

    it('ends dispatched and running runs past timeout + grace as timed_out, with audit trail, usage and a cancel to infra', async () => {
      const user = 'stella';
      const summarizer = {
        agentRef: 'agent:default/summarizer',
        input: { text: 'a' },
      };
      // Dispatched 181 s ago: 120 s timeout + 60 s grace passed.
      const lost = await dispatched(user, summarizer);
      await backdate(lost, 'dispatched_at', 181);
      // Metered (60 s timeout), started 121 s ago.
      const metered = await dispatched(user, {
        agentRef: 'agent:default/paid',
        input: { text: 'a' },
      });
      await postUpdate(server, metered, { state: 'running' });
      await backdate(metered, 'started_at', 121);
      // Running, past its timeout but within the grace.
      const inGrace = await dispatched(user, summarizer);
      await postUpdate(server, inGrace, { state: 'running' });
      await backdate(inGrace, 'started_at', 170);
      // Dispatched long ago but started recently: counted from the start.
      const restarted = await dispatched(user, summarizer);
      await postUpdate(server, restarted, { state: 'running' });
      await backdate(restarted, 'dispatched_at', 1000);
      // Never dispatched (infra down): the outbox keeps retrying, not ours.
      fakes.infraStatus = 503;
      const queued = (await run(user, summarizer)).body.id;
      await backdate(queued, 'created_at', 1000);

      await sweep();
      expect((await get(user, queued)).state).toBe('queued');
      fakes.infraStatus = 202;

      expect(await get(user, lost)).toMatchObject({
        state: 'timed_out',
        exitReason: 'no-report-from-infra',
        message: expect.stringMatching(
          /No report from the infra control plane/,
        ),
        computeSeconds: 0,
        cost: 0,
      });
      const meteredRun = await get(user, metered);
      expect(meteredRun).toMatchObject({
        state: 'timed_out',
        exitReason: 'no-report-from-infra',
        // Capped at the 60 s timeout, not the 121 s since the start.
        computeSeconds: 60,
        cost: 0.6,
      });
      expect(meteredRun.durationMs).toBeGreaterThanOrEqual(121_000);
      expect((await get(user, inGrace)).state).toBe('running');
      expect((await get(user, restarted)).state).toBe('running');

      const events = await trail(user, lost);
      expect(events[events.length - 1]).toMatchObject({
        fromState: 'dispatched',
        toState: 'timed_out',
        actor: 'stuck-run-sweeper',
        details: { exitReason: 'no-report-from-infra' },
      });
      expect((await trail(user, metered)).pop()).toMatchObject({
        fromState: 'running',
        toState: 'timed_out',
        actor: 'stuck-run-sweeper',
      });

      await eventually(
        () => fakes.cancels.includes(lost) && fakes.cancels.includes(metered),
      );
      expect(fakes.cancels).not.toContain(inGrace);
      expect(fakes.cancels).not.toContain(restarted);
      await eventually(() =>
        [lost, metered].every(id =>
          fakes.usage.some(u => u.executionId === id),
        ),
      );
      expect(fakes.usage.find(u => u.executionId === metered)).toMatchObject({
        state: 'timed_out',
        plan: 'metered',
        computeSeconds: 60,
        cost: 0.6,
      });
      expect(fakes.usage.find(u => u.executionId === lost)).toMatchObject({
        state: 'timed_out',
        computeSeconds: 0,
        cost: 0,
      });

      // A second pass changes nothing.
      const before = (await trail(user, lost)).length;
      await sweep();
      expect((await trail(user, lost)).length).toBe(before);
      expect((await get(user, inGrace)).state).toBe('running');
    });

    it('frees the concurrency slot of the stuck run', async () => {
      const body = { agentRef: 'agent:default/capped', input: { text: 'a' } };
      const first = await dispatched('cass', body);
      await postUpdate(server, first, { state: 'running' });
      const refused = await run('cole', body);
      expect(refused.status).toBe(429);
      expect(refused.body.error.message).toMatch(/\[agent-concurrency\]/);

      await backdate(first, 'started_at', 181);
      await sweep();
      expect((await get('cass', first)).state).toBe('timed_out');
      expect((await run('cole', body)).status).toBe(202);
    });

    it('refuses a late infra update after the sweep, keeping one usage record', async () => {
      const user = 'lena';
      const id = await dispatched(user, {
        agentRef: 'agent:default/summarizer',
        input: { text: 'a' },
      });
      await postUpdate(server, id, { state: 'running' });
      await backdate(id, 'started_at', 200);
      await sweep();
      expect((await get(user, id)).state).toBe('timed_out');
      const events = (await trail(user, id)).length;

      const late = await postUpdate(server, id, {
        state: 'succeeded',
        exitReason: 'completed',
        exitCode: 0,
        result: { summary: 'too late' },
        computeSeconds: 5,
      });
      expect(late.status).toBe(409);
      expect(late.body.error.message).toMatch(
        /cannot go from timed_out to succeeded/,
      );
      const lateRunning = await postUpdate(server, id, { state: 'running' });
      expect(lateRunning.status).toBe(409);
      const repeat = await postUpdate(server, id, {
        state: 'timed_out',
        exitReason: 'timeout',
      });
      expect(repeat.status).toBe(200);
      expect(repeat.body).toEqual({ state: 'timed_out', changed: false });

      const record = await get(user, id);
      expect(record).toMatchObject({
        state: 'timed_out',
        exitReason: 'no-report-from-infra',
      });
      expect(record.result).toBeUndefined();
      expect((await trail(user, id)).length).toBe(events);
      const usageRows = await knex('pcp_outbox').where({
        execution_id: id,
        kind: 'usage',
      });
      expect(usageRows).toHaveLength(1);
    });
  });
});
