import { processingResult } from '@backstage/plugin-catalog-node';
import { AgentEntitiesProcessor } from './AgentEntitiesProcessor';

const location = { type: 'file', target: '/catalog/agents/x/catalog-info.yaml' };

function agent(spec: Record<string, unknown> = {}): any {
  return {
    apiVersion: 'agentplatform.dev/v1alpha1',
    kind: 'Agent',
    metadata: { name: 'summarizer', namespace: 'default' },
    spec: {
      owner: 'ml-team',
      lifecycle: 'production',
      version: '1.0.0',
      runtime: { image: 'example/summarizer:1.0.0', entrypoint: 'index.js' },
      input: { type: 'object' },
      ...spec,
    },
  };
}

describe('AgentEntitiesProcessor', () => {
  const processor = new AgentEntitiesProcessor();

  it('validates Agent entities and ignores other kinds', async () => {
    await expect(processor.validateEntityKind(agent())).resolves.toBe(true);
    await expect(
      processor.validateEntityKind({
        apiVersion: 'backstage.io/v1alpha1',
        kind: 'Component',
        metadata: { name: 'c' },
        spec: {},
      }),
    ).resolves.toBe(false);
  });

  it('throws an error naming the field of an invalid Agent', async () => {
    await expect(
      processor.validateEntityKind(agent({ version: 'latest' })),
    ).rejects.toThrow(/spec\.version "latest" is not a semantic version/);
  });

  it('emits owner, system and dependency relations both ways', async () => {
    const emit = jest.fn();
    await processor.postProcessEntity(
      agent({
        system: 'agent-platform',
        dependsOn: ['resource:sample-datasets'],
      }),
      location,
      emit,
    );
    const self = { kind: 'Agent', namespace: 'default', name: 'summarizer' };
    const group = { kind: 'Group', namespace: 'default', name: 'ml-team' };
    const system = { kind: 'System', namespace: 'default', name: 'agent-platform' };
    const resource = { kind: 'resource', namespace: 'default', name: 'sample-datasets' };
    const relations = emit.mock.calls.map(c => c[0]);
    expect(relations).toEqual([
      processingResult.relation({ source: self, type: 'ownedBy', target: group }),
      processingResult.relation({ source: group, type: 'ownerOf', target: self }),
      processingResult.relation({ source: self, type: 'partOf', target: system }),
      processingResult.relation({ source: system, type: 'hasPart', target: self }),
      processingResult.relation({ source: self, type: 'dependsOn', target: resource }),
      processingResult.relation({ source: resource, type: 'dependencyOf', target: self }),
    ]);
  });
});
