import request from 'supertest';
import { mockCredentials } from '@backstage/backend-test-utils';
import { schedulerServiceFactory } from '@backstage/backend-defaults/scheduler';
import searchPlugin from '@backstage/plugin-search-backend';
import searchCatalogModule from '@backstage/plugin-search-backend-module-catalog';
import { createTestDatabases } from '@internal/test-helpers';
import { exampleEntities, startMarketplaceBackend } from './__testUtils__/testBackend';

jest.setTimeout(180_000);

const databases = createTestDatabases();

/**
 * Search honours catalog permissions: the catalog collator indexes with
 * service credentials, and the search backend authorizes each result for the
 * caller through the catalog's permission rules, so the Agent visibility rule
 * hides private agents from search results too.
 */
describe.each(databases.eachSupportedId())('search visibility on %s', databaseId => {
  let backend: Awaited<ReturnType<typeof startMarketplaceBackend>>;

  beforeAll(async () => {
    const knex = await databases.init(databaseId);
    backend = await startMarketplaceBackend({
      knex,
      entities: exampleEntities(),
      extraFeatures: [searchPlugin, searchCatalogModule, schedulerServiceFactory],
      config: {
        search: {
          collators: {
            catalog: { schedule: { frequency: { seconds: 2 }, timeout: { minutes: 1 }, initialDelay: { seconds: 1 } } },
          },
        },
      },
    });
  });

  afterAll(async () => {
    await backend?.stop();
  });

  const search = async (as: string, term: string): Promise<string[]> => {
    const res = await request(backend.server)
      .get(`/api/search/query?term=${encodeURIComponent(term)}&types[0]=software-catalog`)
      .set('Authorization', mockCredentials.user.header(`user:default/${as}`));
    expect(res.body.error?.message).toBeUndefined();
    return res.body.results.map((r: any) => r.document.title);
  };

  it('hides a private agent from non-members and shows it to allowed groups and owners', async () => {
    // Wait until the catalog has processed the agents and the collator indexed
    // both agents this test looks for (a collation may run while the catalog
    // has processed only some of them).
    const indexed = async (term: string, title: string) => {
      const res = await request(backend.server)
        .get(`/api/search/query?term=${term}&types[0]=software-catalog`)
        .set('Authorization', mockCredentials.user.header('user:default/ada'));
      return res.status === 200 && res.body.results.some((r: any) => r.document.title === title);
    };
    for (let i = 0; i < 120; i++) {
      if ((await indexed('assistant', 'LLM Assistant')) && (await indexed('summary', 'Text Summarizer'))) break;
      await new Promise(r => setTimeout(r, 1000));
    }
    expect(await search('ada', 'assistant')).toContain('LLM Assistant');
    expect(await search('guest', 'assistant')).toContain('LLM Assistant');
    expect(await search('grace', 'assistant')).not.toContain('LLM Assistant');
    expect(await search('grace', 'summary')).toContain('Text Summarizer');
  });
});
