import { fireEvent, screen, waitFor } from '@testing-library/react';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { AlertApi, alertApiRef } from '@backstage/core-plugin-api';
import {
  Entitlement,
  MarketplaceApi,
  marketplaceApiRef,
  PublishedListing,
} from '../../api';
import { rootRouteRef } from '../../routes';
import { toHolderRef } from './GrantDialog';
import { PublishingPage } from './PublishingPage';

jest.setTimeout(60_000);

const listing: PublishedListing = {
  agentRef: 'agent:default/summarizer',
  namespace: 'default',
  name: 'summarizer',
  title: 'Text Summarizer',
  description: 'Extractive summary',
  owner: 'group:default/ml-team',
  tags: ['nlp'],
  version: '1.4.0',
  lifecycle: 'production',
  visibility: 'private',
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
  catalogVisibility: 'private',
  allowedGroups: [],
  entitlements: [],
};

const granted: Entitlement = {
  id: 'e7',
  holderRef: 'group:default/data-team',
  agentRef: listing.agentRef,
  plan: 'team',
  status: 'active',
  expiresAt: '2099-12-31T23:59:59.999Z',
  createdBy: 'user:default/ada',
  createdAt: '',
  updatedAt: '',
};

async function renderPage(api: Partial<MarketplaceApi>, post: jest.Mock) {
  await renderInTestApp(
    <TestApiProvider
      apis={[
        [marketplaceApiRef, api as MarketplaceApi],
        [alertApiRef, { post } as Partial<AlertApi> as AlertApi],
      ]}
    >
      <PublishingPage />
    </TestApiProvider>,
    { mountedRoutes: { '/marketplace': rootRouteRef } },
  );
}

describe('PublishingPage grants', () => {
  it('grants a plan to a group until a date, then lists the holder with its expiry', async () => {
    const publishing = jest
      .fn()
      .mockResolvedValueOnce({ items: [listing] })
      .mockResolvedValue({ items: [{ ...listing, entitlements: [granted] }] });
    const acquire = jest.fn().mockResolvedValue(granted);
    const post = jest.fn();
    await renderPage({ publishing, acquire }, post);

    fireEvent.click(
      await screen.findByRole('button', { name: 'Grant Text Summarizer' }),
    );
    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('Grant Text Summarizer');
    const grantButton = screen.getByRole('button', { name: 'Grant' });
    expect(grantButton).toBeDisabled();

    fireEvent.change(screen.getByLabelText('User or group'), {
      target: { value: 'not a ref:' },
    });
    expect(screen.getByText(/Enter a user or group ref/)).toBeInTheDocument();
    expect(grantButton).toBeDisabled();

    fireEvent.change(screen.getByLabelText('User or group'), {
      target: { value: 'group:data-team' },
    });
    fireEvent.mouseDown(screen.getByLabelText('Plan'));
    fireEvent.click(
      await screen.findByRole('option', { name: 'Team (€50/month)' }),
    );
    fireEvent.change(screen.getByLabelText('Expires (optional)'), {
      target: { value: '2099-12-31' },
    });
    fireEvent.click(grantButton);

    await waitFor(() =>
      expect(acquire).toHaveBeenCalledWith({
        agentRef: listing.agentRef,
        plan: 'team',
        holderRef: 'group:default/data-team',
        expiresAt: '2099-12-31T23:59:59.999Z',
      }),
    );
    expect(post).toHaveBeenCalledWith(
      expect.objectContaining({
        message: 'Granted team to data-team until 2099-12-31',
        severity: 'success',
      }),
    );
    expect(
      await screen.findByText(/data-team \(team\) until 2099-12-31/),
    ).toBeInTheDocument();
    await waitFor(() =>
      expect(screen.queryByRole('dialog')).not.toBeInTheDocument(),
    );
  });

  it('keeps the dialog open and shows the backend error when a grant is refused', async () => {
    const publishing = jest.fn().mockResolvedValue({ items: [listing] });
    const acquire = jest
      .fn()
      .mockRejectedValue(
        new Error('Only the owner may grant an entitlement with an expiry'),
      );
    const post = jest.fn();
    await renderPage({ publishing, acquire }, post);

    fireEvent.click(
      await screen.findByRole('button', { name: 'Grant Text Summarizer' }),
    );
    fireEvent.change(await screen.findByLabelText('User or group'), {
      target: { value: 'grace' },
    });
    fireEvent.click(screen.getByRole('button', { name: 'Grant' }));

    await waitFor(() =>
      expect(acquire).toHaveBeenCalledWith({
        agentRef: listing.agentRef,
        plan: 'free',
        holderRef: 'user:default/grace',
      }),
    );
    await waitFor(() =>
      expect(post).toHaveBeenCalledWith({
        message: 'Only the owner may grant an entitlement with an expiry',
        severity: 'error',
      }),
    );
    expect(screen.getByRole('dialog')).toBeInTheDocument();
  });

  it('refuses an expiry in the past before calling the backend', async () => {
    const publishing = jest.fn().mockResolvedValue({ items: [listing] });
    const acquire = jest.fn();
    await renderPage({ publishing, acquire }, jest.fn());
    fireEvent.click(
      await screen.findByRole('button', { name: 'Grant Text Summarizer' }),
    );
    fireEvent.change(await screen.findByLabelText('User or group'), {
      target: { value: 'grace' },
    });
    fireEvent.change(screen.getByLabelText('Expires (optional)'), {
      target: { value: '2001-01-01' },
    });
    expect(
      screen.getByText('The expiry date is in the past'),
    ).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Grant' })).toBeDisabled();
  });
});

describe('toHolderRef', () => {
  it('defaults to users in the default namespace and accepts only users and groups', () => {
    expect(toHolderRef('ada')).toBe('user:default/ada');
    expect(toHolderRef(' Group:ops/sre ')).toBe('group:ops/sre');
    expect(toHolderRef('component:default/x')).toBeUndefined();
    expect(toHolderRef('a:b:c')).toBeUndefined();
  });
});
