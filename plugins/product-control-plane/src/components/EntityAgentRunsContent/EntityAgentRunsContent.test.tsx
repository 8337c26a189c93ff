import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { EntityProvider } from '@backstage/plugin-catalog-react';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { AgentEntity } from '@internal/plugin-agents-common';
import { Route, Routes } from 'react-router-dom';
import { SWRConfig } from 'swr';
import {
  ProductControlPlaneApi,
  productControlPlaneApiRef,
} from '../../api/ProductControlPlaneApi';
import { Execution } from '../../api/types';
import { marketplaceListingRouteRef } from '../../routes';
import { ResponseError } from '@backstage/errors';
import { EntityAgentRunsContent } from './EntityAgentRunsContent';

const entity: AgentEntity = {
  apiVersion: 'agentplatform.dev/v1alpha1',
  kind: 'Agent',
  metadata: { name: 'summarizer', namespace: 'default', title: 'Summarizer' },
  spec: {
    owner: 'group:default/ml',
    lifecycle: 'production',
    version: '1.0.0',
    runtime: { image: 'x', entrypoint: 'index.js' },
    input: {
      type: 'object',
      required: ['text'],
      properties: { text: { type: 'string', title: 'Text to summarize' } },
    },
    marketplace: {
      visibility: 'internal',
      plans: [{ name: 'free', title: 'Free', pricing: 'free', runsPerDay: 10 }],
    },
  },
};

function execution(overrides: Partial<Execution>): Execution {
  return {
    id: 'aaaaaaaa-1111-2222-3333-444444444444',
    agentRef: 'agent:default/summarizer',
    agentVersion: '1.0.0',
    userRef: 'user:default/ada',
    holderRef: 'user:default/ada',
    ownerRef: 'group:default/ml',
    plan: 'free',
    state: 'succeeded',
    mode: 'async',
    attempt: 1,
    input: { text: 'hello' },
    resources: { cpu: '500m', memory: '256Mi', timeoutSeconds: 60 },
    tools: [],
    secrets: [],
    image: 'x',
    entrypoint: 'index.js',
    createdAt: '2026-11-30T10:00:00.000Z',
    updatedAt: '2026-11-30T10:00:05.000Z',
    durationMs: 4200,
    cost: 0.25,
    resultTruncated: false,
    ...overrides,
  };
}

function makeApi(): jest.Mocked<ProductControlPlaneApi> {
  const api = {
    createExecution: jest.fn(async () =>
      execution({ id: 'new-run-0000', state: 'queued' }),
    ),
    getExecution: jest.fn(async id =>
      execution({ id, state: 'succeeded', result: { summary: 'short' } }),
    ),
    listExecutions: jest.fn(async () => ({
      items: [
        execution({}),
        execution({
          id: 'bbbbbbbb-0000',
          state: 'failed',
          userRef: 'user:default/bob',
        }),
      ],
      totalCount: 2,
    })),
    cancelExecution: jest.fn(),
    retryExecution: jest.fn(),
    getLogs: jest.fn(async () => []),
    streamEvents: jest.fn(async (_id, onEvent) => {
      onEvent({
        type: 'log',
        line: { level: 'info', message: 'summarizing 5 words' },
      });
    }),
  };
  return api as unknown as jest.Mocked<ProductControlPlaneApi>;
}

async function render(
  api: ProductControlPlaneApi,
  allow: boolean,
  path = '/runs',
) {
  return renderInTestApp(
    // A fresh permission cache per render, so allow/deny do not leak between tests.
    <SWRConfig value={{ provider: () => new Map() }}>
      <TestApiProvider
        apis={[
          [productControlPlaneApiRef, api],
          [
            permissionApiRef,
            mockApis.permission({
              authorize: allow ? AuthorizeResult.ALLOW : AuthorizeResult.DENY,
            }),
          ],
        ]}
      >
        <EntityProvider entity={entity}>
          <Routes>
            <Route path="/runs/*" element={<EntityAgentRunsContent />} />
          </Routes>
        </EntityProvider>
      </TestApiProvider>
    </SWRConfig>,
    {
      routeEntries: [path],
      mountedRoutes: {
        '/marketplace/agents/:namespace/:name': marketplaceListingRouteRef,
      },
    },
  );
}

/** The error the client throws for a refusal answered with the platform's JSON body. */
function refusal(status: number, name: string, message: string) {
  return ResponseError.fromResponse(
    new Response(
      JSON.stringify({
        error: { name, message },
        request: {
          method: 'POST',
          url: '/api/product-control-plane/executions',
        },
        response: { statusCode: status },
      }),
      {
        status,
        statusText: status === 403 ? 'Forbidden' : 'Too Many Requests',
        headers: { 'content-type': 'application/json' },
      },
    ),
  );
}

jest.setTimeout(30_000);

describe('EntityAgentRunsContent', () => {
  it('shows the run form from the input schema and the history with status, who, duration and cost', async () => {
    const api = makeApi();
    await render(api, true);
    expect(
      await screen.findByLabelText(/Text to summarize/),
    ).toBeInTheDocument();
    expect(await screen.findByText('aaaaaaaa')).toBeInTheDocument();
    expect(screen.getByText('bob')).toBeInTheDocument();
    expect(screen.getAllByText('4.2 s')).toHaveLength(2);
    expect(screen.getAllByText('$0.25')).toHaveLength(2);
    const states = screen
      .getAllByTestId('execution-state')
      .map(e => e.getAttribute('data-state'));
    expect(states).toEqual(['succeeded', 'failed']);
    expect(api.listExecutions).toHaveBeenCalledWith(
      expect.objectContaining({ agentRef: 'agent:default/summarizer' }),
    );
  });

  it('starts a run with the entered input, plan and mode', async () => {
    const api = makeApi();
    await render(api, true);
    await userEvent.type(
      await screen.findByLabelText(/Text to summarize/),
      'A long text',
    );
    await userEvent.click(screen.getByRole('button', { name: 'Start run' }));
    await waitFor(() =>
      expect(api.createExecution).toHaveBeenCalledWith({
        agentRef: 'agent:default/summarizer',
        input: { text: 'A long text' },
        mode: 'async',
        plan: 'free',
      }),
    );
  });

  it("shows the server's reason for a refusal, with a link to acquire a plan", async () => {
    const api = makeApi();
    const reason =
      'user:default/ada holds no entitlement for agent:default/summarizer on plan "free" [not-entitled]';
    api.createExecution.mockRejectedValue(
      await refusal(403, 'EntitlementError', reason),
    );
    await render(api, true);
    await userEvent.type(
      await screen.findByLabelText(/Text to summarize/),
      'x',
    );
    await userEvent.click(screen.getByRole('button', { name: 'Start run' }));
    expect(await screen.findByText(/Run refused/)).toBeInTheDocument();
    expect(screen.getByText(reason)).toBeInTheDocument();
    expect(screen.queryByText(/Request failed with/)).not.toBeInTheDocument();
    expect(
      screen.getByRole('link', { name: 'Acquire a plan for this agent' }),
    ).toHaveAttribute('href', '/marketplace/agents/default/summarizer');
  });

  it('explains a concurrency refusal in words, without an acquire link', async () => {
    const api = makeApi();
    const reason =
      'Plan free allows 1 concurrent runs per holder; 1 running [holder-concurrency]';
    api.createExecution.mockRejectedValue(
      await refusal(429, 'PolicyLimitError', reason),
    );
    await render(api, true);
    await userEvent.type(
      await screen.findByLabelText(/Text to summarize/),
      'x',
    );
    await userEvent.click(screen.getByRole('button', { name: 'Start run' }));
    expect(await screen.findByText(reason)).toBeInTheDocument();
    expect(
      screen.getByText(/All the concurrent runs your plan allows are in use/),
    ).toBeInTheDocument();
    expect(
      screen.queryByRole('link', { name: 'Acquire a plan for this agent' }),
    ).not.toBeInTheDocument();
  });

  it('hides the run form without the create permission', async () => {
    const api = makeApi();
    await render(api, false);
    expect(await screen.findByText('aaaaaaaa')).toBeInTheDocument();
    expect(
      screen.queryByRole('button', { name: 'Start run' }),
    ).not.toBeInTheDocument();
  });

  it('shows a run with its result, streamed logs and Re-run when allowed', async () => {
    const api = makeApi();
    await render(api, true, '/runs/aaaaaaaa-1111');
    expect(await screen.findByTestId('execution-result')).toHaveTextContent(
      'short',
    );
    // LogViewer virtualizes its lines (nothing renders at jsdom's zero height).
    await waitFor(() =>
      expect(screen.getByTestId('execution-logs')).toHaveAttribute(
        'data-text',
        'summarizing 5 words',
      ),
    );
    expect(screen.getByRole('button', { name: 'Re-run' })).toBeInTheDocument();
    expect(
      screen.queryByRole('button', { name: 'Cancel' }),
    ).not.toBeInTheDocument();
  });

  it('offers Cancel on a running run only when the permission allows it', async () => {
    const api = makeApi();
    api.getExecution.mockImplementation(async id =>
      execution({ id, state: 'running', durationMs: undefined }),
    );
    api.cancelExecution.mockImplementation(async id =>
      execution({
        id,
        state: 'running',
        cancelRequestedAt: new Date().toISOString(),
      }),
    );
    const { unmount } = await render(api, true, '/runs/cccc');
    await userEvent.click(
      await screen.findByRole('button', { name: 'Cancel' }),
    );
    expect(api.cancelExecution).toHaveBeenCalledWith('cccc');
    expect(
      await screen.findByRole('button', { name: 'Cancelling…' }),
    ).toBeDisabled();
    unmount();

    await render(api, false, '/runs/cccc');
    expect(await screen.findByText('running')).toBeInTheDocument();
    expect(
      screen.queryByRole('button', { name: 'Cancel' }),
    ).not.toBeInTheDocument();
  });
});
