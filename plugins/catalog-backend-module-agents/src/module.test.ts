import {
  createMockDirectory,
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { createTestDatabases } from '@internal/test-helpers';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import catalogModuleUnprocessedEntities from '@backstage/plugin-catalog-backend-module-unprocessed';
import catalogModuleAgents from './index';

jest.setTimeout(120_000);

const catalogDir = path.resolve(__dirname, '../../../catalog');

const invalidAgents = `
apiVersion: agentplatform.dev/v1alpha1
kind: Agent
metadata:
  name: no-owner
spec:
  lifecycle: production
  version: 1.0.0
  runtime: { image: example/no-owner:1.0.0, entrypoint: index.js }
  input: { type: object }
---
apiVersion: agentplatform.dev/v1alpha1
kind: Agent
metadata:
  name: bad-version
spec:
  owner: group:ml-team
  lifecycle: production
  version: latest
  runtime: { image: example/bad-version:1, entrypoint: index.js }
  input: { type: object }
---
apiVersion: agentplatform.dev/v1alpha1
kind: Agent
metadata:
  name: bad-input-schema
spec:
  owner: group:ml-team
  lifecycle: production
  version: 1.0.0
  runtime: { image: example/bad-input:1.0.0, entrypoint: index.js }
  input: { type: object, required: text }
`;

async function eventually<T>(fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise(r => setTimeout(r, 250));
  }
}

describe('catalog with the Agent kind', () => {
  const databases = createTestDatabases();
  const mockDir = createMockDirectory();

  it.each(databases.eachSupportedId())(
    'loads the example agents with relations and reports invalid ones, on %p',
    async databaseId => {
      const knex = await databases.init(databaseId);
      mockDir.setContent({ 'invalid-agents.yaml': invalidAgents });
      expect(fs.existsSync(path.join(catalogDir, 'all.yaml'))).toBe(true);

      const { server } = await startTestBackend({
        features: [
          catalogPlugin,
          catalogModuleUnprocessedEntities,
          catalogModuleAgents,
          mockServices.database.factory({ knex }),
          mockServices.rootConfig.factory({
            data: {
              catalog: {
                rules: [{ allow: ['Agent', 'Group', 'User', 'System', 'Resource', 'Location', 'Template', 'Component'] }],
                locations: [
                  { type: 'file', target: path.join(catalogDir, 'all.yaml') },
                  { type: 'file', target: mockDir.resolve('invalid-agents.yaml') },
                ],
              },
            },
          }),
        ],
      });

      const auth = `Bearer ${mockCredentials.user.token()}`;

      // Every example agent lands in the catalog, typed and related.
      const agents = await eventually(async () => {
        const res = await request(server)
          .get('/api/catalog/entities/by-query?filter=kind=agent&limit=100')
          .set('Authorization', auth);
        return res.status === 200 && res.body.items.length >= 8
          ? res.body.items
          : undefined;
      });
      const summarizer = agents.find((a: any) => a.metadata.name === 'summarizer');
      expect(summarizer.spec.version).toBe('1.4.0');
      const relations = summarizer.relations.map((r: any) => `${r.type} ${r.targetRef}`);
      expect(relations).toEqual(
        expect.arrayContaining([
          'ownedBy group:default/ml-team',
          'partOf system:default/agent-platform',
        ]),
      );

      // The group sees the reverse relation.
      const group = await request(server)
        .get('/api/catalog/entities/by-name/group/default/ml-team')
        .set('Authorization', auth);
      expect(group.body.relations.map((r: any) => `${r.type} ${r.targetRef}`)).toContain(
        'ownerOf agent:default/summarizer',
      );

      // Invalid agents never become entities, and the catalog says why.
      const errors = await eventually(async () => {
        const res = await Promise.all(
          ['failed', 'pending'].map(reason =>
            request(server)
              .get(`/api/catalog/entities/unprocessed/${reason}`)
              .set('Authorization', auth),
          ),
        );
        const byName = new Map<string, string>();
        for (const r of res) {
          for (const e of r.body.entities ?? []) {
            if (e.errors?.length) {
              byName.set(
                e.unprocessed_entity.metadata.name,
                e.errors.map((x: any) => x.message).join('\n'),
              );
            }
          }
        }
        return byName.size >= 3 ? byName : undefined;
      });
      expect(errors.get('no-owner')).toContain('spec.owner is required');
      expect(errors.get('bad-version')).toContain(
        'spec.version "latest" is not a semantic version',
      );
      expect(errors.get('bad-input-schema')).toMatch(
        /spec\.input.* is not a valid JSON Schema/,
      );
      const invalid = await request(server)
        .get('/api/catalog/entities/by-name/agent/default/no-owner')
        .set('Authorization', auth);
      expect(invalid.status).toBe(404);
    },
  );
});
