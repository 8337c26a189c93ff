import { createTestDatabases } from '@internal/test-helpers';
import request from 'supertest';
import {
  agent,
  createFakes,
  Fakes,
  startPlugin,
  userHeader,
} from './__testUtils__/harness';

jest.setTimeout(120_000);

const API = '/api/product-control-plane';
const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
const entities = [
  agent('llm-assistant', {
    spec: {
      owner: 'group:default/assistants',
      secrets: ['OPENAI_API_KEY'],
    } as any,
  }),
  agent('profiler', {
    spec: {
      owner: 'group:default/ml-team',
      secrets: ['WAREHOUSE_TOKEN'],
    } as any,
  }),
  agent('sneaky', {
    spec: {
      owner: 'group:default/ml_team',
      secrets: ['OPENAI_API_KEY', 'WAREHOUSE_TOKEN'],
    } as any,
  }),
  agent('outside-image', {
    spec: {
      secrets: [],
      runtime: {
        image: 'evil.example.net/miner:latest',
        entrypoint: 'index.js',
      },
    } as any,
  }),
  agent('pinned', {
    spec: {
      secrets: [],
      runtime: {
        image: `registry.example.com/agents/pinned@${digest}`,
        entrypoint: 'index.js',
      },
    } as any,
  }),
];

describe('platform secrets and images by allow-list', () => {
  const databases = createTestDatabases();

  describe.each(databases.eachSupportedId())('on %p', databaseId => {
    let server: any;
    let fakes: Fakes;
    beforeAll(async () => {
      const knex = await databases.init(databaseId);
      fakes = createFakes(entities);
      ({ server } = await startPlugin({
        knex,
        entities,
        fakes,
        config: {
          secrets: {
            OPENAI_API_KEY: 'sk-platform-value',
            WAREHOUSE_TOKEN: 'wh-platform-value',
          },
          platformSecrets: [
            { name: 'OPENAI_API_KEY', agents: ['agent:default/llm-assistant'] },
            { name: 'WAREHOUSE_TOKEN', ownerGroups: ['group:default/ml-team'] },
          ],
        },
      }));
    });
    const run = (name: string, user = 'pat') =>
      request(server)
        .post(`${API}/executions`)
        .set('authorization', userHeader(user))
        .send({ agentRef: `agent:default/${name}`, input: { text: 'x' } });
    const listing = (name: string, user = 'pat') =>
      request(server)
        .get(`${API}/secrets/${encodeURIComponent(`agent:default/${name}`)}`)
        .set('authorization', userHeader(user));

    it('grants platform secrets to the agents named and to agents of the owner groups named', async () => {
      const llm = await run('llm-assistant');
      expect(llm.status).toBe(202);
      expect(llm.body.secrets).toEqual([
        { name: 'OPENAI_API_KEY', source: 'platform' },
      ]);
      const profiler = await run('profiler');
      expect(profiler.status).toBe(202);
      expect(profiler.body.secrets).toEqual([
        { name: 'WAREHOUSE_TOKEN', source: 'platform' },
      ]);
    });

    it('refuses at admission an agent asking for a platform secret it is not granted, naming both', async () => {
      const res = await run('sneaky');
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(
        /^Agent agent:default\/sneaky asks for the platform secret OPENAI_API_KEY, which is not granted to it .*\[platform-secret-not-granted\]$/,
      );
      expect(JSON.stringify(res.body)).not.toContain('platform-value');
      // Nothing was recorded or dispatched.
      const runs = await request(server)
        .get(`${API}/executions?agentRef=agent:default/sneaky`)
        .set('authorization', userHeader('pat'));
      expect(runs.body.totalCount).toBe(0);
      expect(fakes.plans.some(p => p.agentRef === 'agent:default/sneaky')).toBe(
        false,
      );
    });

    it('lets a user run with a value of their own instead of an ungranted platform one', async () => {
      for (const name of ['OPENAI_API_KEY', 'WAREHOUSE_TOKEN']) {
        await request(server)
          .put(
            `${API}/secrets/${encodeURIComponent(
              'agent:default/sneaky',
            )}/${name}`,
          )
          .set('authorization', userHeader('quinn'))
          .send({ value: `quinn-${name}` })
          .expect(204);
      }
      const res = await run('sneaky', 'quinn');
      expect(res.status).toBe(202);
      expect(res.body.secrets.map((s: any) => s.source)).toEqual([
        'user',
        'user',
      ]);
    });

    it('lists only the platform secrets the agent may use', async () => {
      expect((await listing('llm-assistant')).body).toEqual({
        user: [],
        platform: ['OPENAI_API_KEY'],
      });
      expect((await listing('profiler')).body.platform).toEqual([
        'WAREHOUSE_TOKEN',
      ]);
      expect((await listing('sneaky')).body.platform).toEqual([]);
      expect((await listing('no-such-agent')).body.platform).toEqual([]);
    });

    it('refuses images outside the allowed registries, naming the image, and accepts digests', async () => {
      const outside = await run('outside-image');
      expect(outside.status).toBe(403);
      expect(outside.body.error.message).toBe(
        'Image evil.example.net/miner:latest of agent:default/outside-image is not from an allowed registry (productControlPlane.images.allowedRegistries: registry.example.com, docker.io/library) [image-not-allowed]',
      );
      const pinned = await run('pinned');
      expect(pinned.status).toBe(202);
      expect(pinned.body.image).toBe(
        `registry.example.com/agents/pinned@${digest}`,
      );
    });
  });
});
