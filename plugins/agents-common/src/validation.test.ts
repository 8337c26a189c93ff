import { Entity } from '@backstage/catalog-model';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'yaml';
import {
  findAgentEntityProblems,
  isAgentEntity,
  validateAgentEntity,
} from './validation';

const agentsDir = path.resolve(__dirname, '../../../catalog/agents');

function exampleAgents(): Entity[] {
  return fs
    .readdirSync(agentsDir)
    .map(dir => path.join(agentsDir, dir, 'catalog-info.yaml'))
    .filter(f => fs.existsSync(f))
    .map(f => yaml.parse(fs.readFileSync(f, 'utf8')));
}

function validAgent(): any {
  return {
    apiVersion: 'agentplatform.dev/v1alpha1',
    kind: 'Agent',
    metadata: { name: 'summarizer' },
    spec: {
      owner: 'group:ml-team',
      lifecycle: 'production',
      version: '1.4.0',
      runtime: { image: 'example/summarizer:1.4.0', entrypoint: 'index.js' },
      input: {
        type: 'object',
        required: ['text'],
        properties: { text: { type: 'string' } },
      },
      marketplace: {
        visibility: 'public',
        plans: [{ name: 'free', pricing: 'free' }],
      },
    },
  };
}

describe('Agent entity validation', () => {
  it('accepts every example agent in catalog/', () => {
    const agents = exampleAgents();
    expect(agents.length).toBeGreaterThanOrEqual(6);
    for (const agent of agents) {
      expect(isAgentEntity(agent)).toBe(true);
      expect(findAgentEntityProblems(agent)).toEqual([]);
    }
  });

  it('names a missing owner', () => {
    const agent = validAgent();
    delete agent.spec.owner;
    expect(() => validateAgentEntity(agent)).toThrow(
      'Invalid Agent "summarizer": spec.owner is required',
    );
  });

  it('rejects a version that is not semver', () => {
    const agent = validAgent();
    agent.spec.version = 'v1-latest';
    expect(findAgentEntityProblems(agent)).toEqual([
      {
        path: 'spec.version',
        message: '"v1-latest" is not a semantic version (expected e.g. 1.4.0)',
      },
    ]);
  });

  it('rejects an input that is not a valid JSON Schema', () => {
    const agent = validAgent();
    agent.spec.input = { type: 'object', properties: { text: { type: 'strin' } } };
    const problems = findAgentEntityProblems(agent);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0].path).toMatch(/^spec\.input/);
    expect(problems[0].message).toMatch(/not a valid JSON Schema/);
  });

  it('lists several problems at once with their paths', () => {
    const agent = validAgent();
    agent.spec.tools = ['http', 'shell'];
    agent.spec.secrets = ['lower_case'];
    agent.spec.marketplace.visibility = 'secret';
    agent.spec.marketplace.plans.push({ name: 'free', pricing: 'per-run' });
    agent.spec.unknownField = true;
    const paths = findAgentEntityProblems(agent).map(p => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'spec.tools[1]',
        'spec.secrets[0]',
        'spec.marketplace.visibility',
        'spec.marketplace.plans[1].name',
        'spec.marketplace.plans[1].price',
        'spec.unknownField',
      ]),
    );
  });

  it('rejects an owner that is not an entity reference', () => {
    const agent = validAgent();
    agent.spec.owner = 'group:ns/';
    expect(findAgentEntityProblems(agent)[0].path).toBe('spec.owner');
    agent.spec.owner = 'component:summarizer';
    expect(findAgentEntityProblems(agent)).toEqual([
      { path: 'spec.owner', message: 'must refer to a Group or User, not a component' },
    ]);
  });

  it('does not claim other kinds', () => {
    expect(
      isAgentEntity({
        apiVersion: 'backstage.io/v1alpha1',
        kind: 'Component',
        metadata: { name: 'x' },
      }),
    ).toBe(false);
  });
});
