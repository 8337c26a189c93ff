import { EntityProvider, entityRouteRef } from '@backstage/plugin-catalog-react';
import { renderInTestApp } from '@backstage/test-utils';
import { screen } from '@testing-library/react';
import { AgentPlansCard } from '../AgentPlansCard';
import { AgentSchemaCard } from '../AgentSchemaCard';
import { AgentOverviewCard } from './AgentOverviewCard';

const agent = {
  apiVersion: 'agentplatform.dev/v1alpha1',
  kind: 'Agent',
  metadata: { name: 'llm-assistant', description: 'Answers questions' },
  spec: {
    owner: 'group:ml-team',
    lifecycle: 'experimental',
    version: '0.2.0',
    runtime: { image: 'example/llm:0.2.0', entrypoint: 'index.js' },
    input: {
      type: 'object',
      required: ['question'],
      properties: {
        question: { type: 'string', title: 'Question', minLength: 3 },
      },
    },
    tools: ['llm'],
    secrets: ['OPENAI_API_KEY'],
    resources: { cpu: '250m', memory: '128Mi', timeoutSeconds: 120 },
    marketplace: {
      visibility: 'private',
      plans: [
        { name: 'free', title: 'Free', pricing: 'free', runsPerDay: 20 },
        { name: 'pro', title: 'Pro', pricing: 'per-run', price: 0.05 },
      ],
    },
  },
};

const mountedRoutes = {
  mountedRoutes: { '/catalog/:namespace/:kind/:name': entityRouteRef },
};

const render = (children: JSX.Element) =>
  renderInTestApp(
    <EntityProvider entity={agent}>{children}</EntityProvider>,
    mountedRoutes,
  );

describe('Agent cards', () => {
  it('shows the overview: description, version, tools and secret names', async () => {
    await render(<AgentOverviewCard />);
    expect(screen.getByText('Answers questions')).toBeInTheDocument();
    expect(screen.getByText('0.2.0')).toBeInTheDocument();
    expect(screen.getByText('private')).toBeInTheDocument();
    expect(screen.getByText('llm')).toBeInTheDocument();
    expect(screen.getByText('OPENAI_API_KEY')).toBeInTheDocument();
    expect(screen.getByText('cpu 250m · memory 128Mi · timeout 120 s')).toBeInTheDocument();
  });

  it('lists plans with prices and limits', async () => {
    await render(<AgentPlansCard />);
    expect(screen.getAllByText('Free')).toHaveLength(2); // plan title and price
    expect(screen.getByText('20 runs/day')).toBeInTheDocument();
    expect(screen.getByText('$0.05 per run')).toBeInTheDocument();
  });

  it('renders the input schema as fields', async () => {
    await render(<AgentSchemaCard which="input" />);
    expect(screen.getByText('question')).toBeInTheDocument();
    expect(screen.getByText('required', { exact: false })).toBeInTheDocument();
    expect(screen.getByText('min length 3')).toBeInTheDocument();
  });

  it('renders nothing for entities that are not agents', async () => {
    const { container } = await renderInTestApp(
      <EntityProvider entity={{ apiVersion: 'backstage.io/v1alpha1', kind: 'Component', metadata: { name: 'c' } }}>
        <AgentOverviewCard />
      </EntityProvider>,
      mountedRoutes,
    );
    expect(container.textContent).toBe('');
  });
});
