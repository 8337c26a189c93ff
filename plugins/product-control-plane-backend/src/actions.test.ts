import { mockCredentials } from '@backstage/backend-test-utils';
import { actionsRegistryServiceMock } from '@backstage/backend-test-utils/alpha';
import { createTestDatabases } from '@internal/test-helpers';
import {
  agent,
  eventually,
  postUpdate,
  startPlugin,
} from './__testUtils__/harness';

jest.setTimeout(120_000);

const entities = [
  agent('summarizer'),
  agent('preview-agent', { visibility: 'preview' }),
];

describe('actions for AI clients', () => {
  const databases = createTestDatabases();

  it('lists agents, runs one and reads the execution under the same policy', async () => {
    const knex = await databases.init('SQLITE_3');
    const registry = actionsRegistryServiceMock();
    const { server, fakes } = await startPlugin({
      knex,
      entities,
      actionsRegistry: registry,
      config: { sync: { maxWaitSeconds: 5 } },
    });
    const credentials = mockCredentials.user('user:default/mia');

    const { actions } = await registry.list();
    expect(actions.map(a => a.name).sort()).toEqual([
      'get-execution',
      'list-agents',
      'run-agent',
    ]);

    const listed = await registry.invoke({
      id: 'test:list-agents',
      input: { query: 'summ' },
      credentials,
    });
    expect(listed.output).toEqual({
      agents: [
        expect.objectContaining({
          ref: 'agent:default/summarizer',
          version: '1.2.0',
          plans: ['free'],
        }),
      ],
    });

    const started = await registry.invoke({
      id: 'test:run-agent',
      input: {
        agentRef: 'agent:default/summarizer',
        input: { text: 'from mcp' },
      },
      credentials,
    });
    expect(started.output).toMatchObject({
      state: 'queued',
      agentRef: 'agent:default/summarizer',
    });
    const id = (started.output as any).id;

    const plan = await eventually(() =>
      fakes.plans.find(p => p.executionId === id),
    );
    expect(plan.requestedBy).toBe('user:default/mia');
    await postUpdate(server, id, { state: 'running' });
    await postUpdate(server, id, {
      state: 'succeeded',
      result: { summary: 'ok' },
    });
    const got = await registry.invoke({
      id: 'test:get-execution',
      input: { id },
      credentials,
    });
    expect(got.output).toMatchObject({
      execution: { id, state: 'succeeded', result: { summary: 'ok' } },
    });

    // Same validation and policy as the REST API.
    await expect(
      registry.invoke({
        id: 'test:run-agent',
        input: { agentRef: 'agent:default/summarizer', input: {} },
        credentials,
      }),
    ).rejects.toThrow(/input\.text is required/);
    await expect(
      registry.invoke({
        id: 'test:run-agent',
        input: {
          agentRef: 'agent:default/preview-agent',
          input: { text: 'a' },
        },
        credentials,
      }),
    ).rejects.toThrow(/preview/);
    // An entitlement refusal is an answer in the server's words (MCP clients
    // see it), not a bare "Request failed with 403".
    const refused = await registry.invoke({
      id: 'test:run-agent',
      input: {
        agentRef: 'agent:default/summarizer',
        input: { text: 'a' },
        plan: 'gold',
      },
      credentials,
    });
    expect(refused.output).toEqual({
      agentRef: 'agent:default/summarizer',
      refused: {
        code: 'plan-not-found',
        message: 'No plan gold [plan-not-found]',
      },
    });
    // Someone else cannot read mia's run.
    await expect(
      registry.invoke({
        id: 'test:get-execution',
        input: { id },
        credentials: mockCredentials.user('user:default/zed'),
      }),
    ).rejects.toThrow(/not found/);
  });
});
