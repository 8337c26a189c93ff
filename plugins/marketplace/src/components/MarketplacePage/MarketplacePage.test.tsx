import { fireEvent, screen, waitFor } from '@testing-library/react';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { MarketplaceApi, marketplaceApiRef } from '../../api';
import { rootRouteRef } from '../../routes';
import { DiscoveryPage } from '../DiscoveryPage';
import { MyAgentsPage } from '../MyAgentsPage';
import { PublishingPage } from '../PublishingPage';

const summarizer = {
  agentRef: 'agent:default/summarizer',
  namespace: 'default',
  name: 'summarizer',
  title: 'Text Summarizer',
  description: 'Extractive summary',
  owner: 'group:default/ml-team',
  tags: ['nlp'],
  version: '1.4.0',
  lifecycle: 'production',
  visibility: 'public' as const,
  pricingModels: ['free'],
  availability: 'degraded' as const,
  runs30d: 12,
  successRate: 0.75,
  plans: [
    {
      name: 'free',
      title: 'Free',
      pricing: 'free' as const,
      runsPerDay: 20,
      priceText: 'Free',
      limitsText: '20 runs/day',
    },
  ],
};

function mockApi(overrides: Partial<MarketplaceApi>): MarketplaceApi {
  return overrides as MarketplaceApi;
}

jest.setTimeout(60_000);

describe('DiscoveryPage', () => {
  it('renders server results as cards and a table, and sends the search to the server', async () => {
    const listAgents = jest.fn().mockResolvedValue({
      items: [summarizer],
      totalCount: 31,
      page: 1,
      pageSize: 12,
    });
    await renderInTestApp(
      <TestApiProvider apis={[[marketplaceApiRef, mockApi({ listAgents })]]}>
        <DiscoveryPage />
      </TestApiProvider>,
      { mountedRoutes: { '/marketplace': rootRouteRef } },
    );
    expect(
      await screen.findByRole('link', { name: 'Text Summarizer' }),
    ).toHaveAttribute('href', '/marketplace/agents/default/summarizer');
    expect(screen.getByText('31 agents')).toBeInTheDocument();
    expect(screen.getByText('Degraded')).toBeInTheDocument();
    expect(screen.getByText(/success 75%/)).toBeInTheDocument();

    fireEvent.change(screen.getByLabelText('Search agents'), {
      target: { value: 'summ' },
    });
    await waitFor(() =>
      expect(listAgents).toHaveBeenLastCalledWith(
        expect.objectContaining({ q: 'summ', page: 1, pageSize: 12 }),
      ),
    );

    fireEvent.click(screen.getByRole('button', { name: 'Table view' }));
    expect(
      await screen.findByRole('columnheader', { name: 'Availability' }),
    ).toBeInTheDocument();

    fireEvent.click(screen.getByRole('button', { name: /next page/i }));
    await waitFor(() =>
      expect(listAgents).toHaveBeenLastCalledWith(
        expect.objectContaining({ page: 2 }),
      ),
    );
  });
});

describe('MyAgentsPage', () => {
  it('shows usage against limits and cancels', async () => {
    const item = {
      id: 'e1',
      holderRef: 'user:default/ada',
      agentRef: 'agent:default/summarizer',
      plan: 'free',
      status: 'active' as const,
      expiresAt: null,
      createdBy: 'user:default/ada',
      createdAt: '',
      updatedAt: '',
      expired: false,
      agentTitle: 'Text Summarizer',
      plans: summarizer.plans,
      planDetails: summarizer.plans[0],
      usage: {
        periodStart: '',
        runs: 7,
        runsToday: 3,
        computeSeconds: 12.5,
        cost: 1.25,
      },
    };
    const myEntitlements = jest
      .fn()
      .mockResolvedValueOnce({ currency: 'EUR', items: [item] })
      .mockResolvedValue({ currency: 'EUR', items: [] });
    const cancel = jest
      .fn()
      .mockResolvedValue({ ...item, status: 'cancelled' });
    await renderInTestApp(
      <TestApiProvider
        apis={[[marketplaceApiRef, mockApi({ myEntitlements, cancel })]]}
      >
        <MyAgentsPage />
      </TestApiProvider>,
      { mountedRoutes: { '/marketplace': rootRouteRef } },
    );
    expect(await screen.findByText('3 / 20')).toBeInTheDocument();
    expect(screen.getByText('€1.25')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(cancel).toHaveBeenCalledWith('e1'));
    expect(
      await screen.findByText('You have not acquired any agent yet.'),
    ).toBeInTheDocument();
  });
});

describe('PublishingPage', () => {
  it('lists my listings with holders and revokes an entitlement', async () => {
    const listing = {
      ...summarizer,
      catalogVisibility: 'public' as const,
      allowedGroups: ['group:default/platform-team'],
      entitlements: [
        {
          id: 'e9',
          holderRef: 'user:default/grace',
          agentRef: summarizer.agentRef,
          plan: 'free',
          status: 'active' as const,
          expiresAt: null,
          createdBy: 'user:default/grace',
          createdAt: '',
          updatedAt: '',
        },
      ],
    };
    const publishing = jest
      .fn()
      .mockResolvedValueOnce({ items: [listing] })
      .mockResolvedValue({ items: [{ ...listing, entitlements: [] }] });
    const revoke = jest.fn().mockResolvedValue({});
    await renderInTestApp(
      <TestApiProvider
        apis={[[marketplaceApiRef, mockApi({ publishing, revoke })]]}
      >
        <PublishingPage />
      </TestApiProvider>,
      { mountedRoutes: { '/marketplace': rootRouteRef } },
    );
    expect(await screen.findByText('grace (free)')).toBeInTheDocument();
    expect(screen.getByText('platform-team')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Revoke' }));
    await waitFor(() => expect(revoke).toHaveBeenCalledWith('e9'));
    await waitFor(() =>
      expect(screen.queryByText('grace (free)')).not.toBeInTheDocument(),
    );
  });
});
