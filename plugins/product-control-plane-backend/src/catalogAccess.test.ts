import { createTestDatabases } from '@internal/test-helpers';
import request from 'supertest';
import {
  agent,
  infraHeader,
  pluginHeader,
  postUpdate,
  startPlugin,
  userHeader,
} from './__testUtils__/harness';

jest.setTimeout(60_000);

const API = '/api/product-control-plane';
const entities = [
  agent('reader', { spec: { tools: ['catalog'], secrets: [] } }),
  agent('offline', { spec: { tools: [], secrets: [] } }),
];

describe('catalog access bound to the requester', () => {
  const databases = createTestDatabases();

  it.each(databases.eachSupportedId())(
    'keeps the requester own catalog token while the run is unfinished, for the infra plane only (%p)',
    async databaseId => {
      const knex = await databases.init(databaseId);
      const { server } = await startPlugin({ knex, entities });
      const run = async (name: string, user: string) => {
        const res = await request(server)
          .post(`${API}/executions`)
          .set('authorization', userHeader(user))
          .send({ agentRef: `agent:default/${name}`, input: { text: 'hi' } });
        expect(res.status).toBe(202);
        return res.body.id as string;
      };
      const tokenOf = (id: string, header = infraHeader()) =>
        request(server)
          .get(`${API}/internal/executions/${id}/catalog-token`)
          .set('authorization', header);

      const id = await run('reader', 'alice');
      const kept = await tokenOf(id);
      expect(kept.status).toBe(200);
      // The mock auth service's token on behalf of alice, for the catalog.
      expect(kept.body.token).toContain('user:default/alice');
      expect(kept.body.token).toContain('catalog');
      expect(Date.parse(kept.body.expiresAt)).toBeGreaterThan(Date.now());

      // Sealed at rest, bound to the run.
      const rows = await knex('pcp_run_access_tokens').where({
        execution_id: id,
      });
      expect(rows).toHaveLength(1);
      expect(rows[0].ciphertext).not.toContain('alice');
      await knex('pcp_run_access_tokens')
        .where({ execution_id: id })
        .update({ execution_id: `${id}-moved` });
      await knex('pcp_run_access_tokens')
        .where({ execution_id: `${id}-moved` })
        .update({ execution_id: id });

      // Only the infra control plane may read it.
      for (const header of [pluginHeader('catalog'), userHeader('alice')]) {
        expect((await tokenOf(id, header)).status).toBe(403);
      }

      // A run without the catalog tool has none; a finished run neither.
      expect((await tokenOf(await run('offline', 'alice'))).status).toBe(404);
      expect((await postUpdate(server, id, { state: 'running' })).status).toBe(
        200,
      );
      expect(
        (
          await postUpdate(server, id, {
            state: 'succeeded',
            result: { ok: true },
          })
        ).status,
      ).toBe(200);
      const after = await tokenOf(id);
      expect(after.status).toBe(404);
      expect(after.body.error.message).toContain('has no catalog access');
      expect(
        await knex('pcp_run_access_tokens').where({ execution_id: id }),
      ).toHaveLength(0);

      // Each run its requester's own token.
      const bob = await tokenOf(await run('reader', 'bob'));
      expect(bob.body.token).toContain('user:default/bob');
    },
  );
});
