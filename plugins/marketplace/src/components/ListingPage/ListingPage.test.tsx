import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { Route, Routes } from 'react-router-dom';
import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import {
  AlertApi,
  alertApiRef,
  identityApiRef,
} from '@backstage/core-plugin-api';
import { entityRouteRef } from '@backstage/plugin-catalog-react';
import { ListingDetail, MarketplaceApi, marketplaceApiRef } from '../../api';
import { rootRouteRef } from '../../routes';
import { ListingPage } from './ListingPage';

jest.setTimeout(60_000);

const agent: ListingDetail = {
  agentRef: 'agent:default/summarizer',
  namespace: 'default',
  name: 'summarizer',
  title: 'Text Summarizer',
  description: 'Extractive summary',
  owner: 'group:default/ml-team',
  tags: ['nlp'],
  version: '1.4.0',
  lifecycle: 'production',
  visibility: 'public',
  pricingModels: ['free', 'subscription'],
  availability: 'available',
  runs30d: 12,
  successRate: 0.75,
  plans: [
    {
      name: 'free',
      title: 'Free',
      pricing: 'free',
      runsPerDay: 20,
      priceText: 'Free',
      limitsText: '20 runs/day',
    },
    {
      name: 'team',
      title: 'Team',
      pricing: 'subscription',
      priceText: '€50/month',
      limitsText: '500 runs/month',
    },
  ],
  currency: 'EUR',
  versions: ['1.4.0'],
  runnable: true,
  typicalDurationSeconds: 4,
  isOwner: false,
  entity: {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name: 'summarizer' },
  },
  myEntitlements: [],
};

const mine = {
  id: 'e1',
  holderRef: 'user:default/ada',
  agentRef: agent.agentRef,
  plan: 'free',
  status: 'active' as const,
  expiresAt: null,
  createdBy: 'user:default/ada',
  createdAt: '',
  updatedAt: '',
};

async function renderPage(
  api: Partial<MarketplaceApi>,
  alertApi: Partial<AlertApi>,
) {
  await renderInTestApp(
    <TestApiProvider
      apis={[
        [marketplaceApiRef, api as MarketplaceApi],
        [alertApiRef, alertApi as AlertApi],
        [
          identityApiRef,
          mockApis.identity({
            userEntityRef: 'user:default/ada',
            ownershipEntityRefs: [
              'user:default/ada',
              'group:default/platform-team',
            ],
          }),
        ],
      ]}
    >
      <Routes>
        <Route
          path="/marketplace/agents/:namespace/:name"
          element={<ListingPage />}
        />
      </Routes>
    </TestApiProvider>,
    {
      routeEntries: ['/marketplace/agents/default/summarizer'],
      mountedRoutes: {
        '/marketplace': rootRouteRef,
        '/catalog/:namespace/:kind/:name': entityRouteRef,
      },
    },
  );
}

function planRow(plan: string) {
  return screen.getByRole('cell', { name: plan }).closest('tr') as HTMLElement;
}

describe('ListingPage', () => {
  it('acquires a team plan for one of my groups while my own plan stays', async () => {
    const teamEntitlement = {
      ...mine,
      id: 'e2',
      holderRef: 'group:default/platform-team',
      plan: 'team',
    };
    const getAgent = jest
      .fn()
      .mockResolvedValueOnce({ ...agent, myEntitlements: [mine] })
      .mockResolvedValue({ ...agent, myEntitlements: [teamEntitlement, mine] });
    const acquire = jest.fn().mockResolvedValue(teamEntitlement);
    const post = jest.fn();
    await renderPage({ getAgent, acquire }, { post });

    expect(await screen.findByText('Your plan')).toBeInTheDocument();
    expect(getAgent).toHaveBeenCalledWith('default', 'summarizer');
    expect(screen.getByText('Held by: me (free)')).toBeInTheDocument();

    fireEvent.mouseDown(screen.getByLabelText('Acquire for'));
    fireEvent.click(
      await screen.findByRole('option', { name: 'platform-team' }),
    );
    // The group holds nothing yet: every plan can be acquired for it.
    expect(screen.queryByText('Your plan')).not.toBeInTheDocument();
    fireEvent.click(
      within(planRow('Team')).getByRole('button', { name: 'Acquire Team' }),
    );

    await waitFor(() =>
      expect(acquire).toHaveBeenCalledWith({
        agentRef: agent.agentRef,
        plan: 'team',
        holderRef: 'group:default/platform-team',
      }),
    );
    expect(post).toHaveBeenCalledWith(
      expect.objectContaining({
        message: 'Acquired Team for platform-team',
        severity: 'success',
      }),
    );
    expect(
      await screen.findByText('Held by: me (free), platform-team (team)'),
    ).toBeInTheDocument();
    expect(within(planRow('Team')).getByText('Your plan')).toBeInTheDocument();
    expect(
      screen.getByRole('button', { name: 'Cancel the plan of platform-team' }),
    ).toBeInTheDocument();
  });

  it('acquires for me without a holder and shows a backend refusal as an error alert', async () => {
    const getAgent = jest.fn().mockResolvedValue(agent);
    const acquire = jest
      .fn()
      .mockRejectedValue(
        new Error('Plan "free" not found for agent:default/summarizer'),
      );
    const post = jest.fn();
    await renderPage({ getAgent, acquire }, { post });

    fireEvent.click(
      await screen.findByRole('button', { name: 'Acquire Free' }),
    );
    await waitFor(() =>
      expect(acquire).toHaveBeenCalledWith({
        agentRef: agent.agentRef,
        plan: 'free',
      }),
    );
    await waitFor(() =>
      expect(post).toHaveBeenCalledWith({
        message: 'Plan "free" not found for agent:default/summarizer',
        severity: 'error',
      }),
    );
    expect(
      screen.getByText('Acquire a plan to run this agent.'),
    ).toBeInTheDocument();
  });
});
