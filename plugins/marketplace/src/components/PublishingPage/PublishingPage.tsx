import { useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { Button, MenuItem, Select } from '@material-ui/core';
import {
  Progress,
  ResponseErrorPanel,
  Table,
  TableColumn,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { AgentVisibility } from '@internal/plugin-agents-common';
import { AcquireRequest, marketplaceApiRef, PublishedListing } from '../../api';
import { shortRef } from '../format';
import { useMarketplaceAction } from '../useMarketplaceAction';
import { GrantDialog } from './GrantDialog';

/** Owners: their listings, visibility changes, who holds entitlements, grants and revocations. */
export function PublishingPage() {
  const api = useApi(marketplaceApiRef);
  const [granting, setGranting] = useState<PublishedListing | undefined>();
  const { value, loading, error, retry } = useAsyncRetry(
    () => api.publishing(),
    [],
  );
  const { busy, act } = useMarketplaceAction(retry);
  if (loading && !value) return <Progress />;
  if (error) return <ResponseErrorPanel error={error} />;
  if (!value) return null;

  const change = (l: PublishedListing, v: string) => {
    const visibility = v === 'catalog' ? null : (v as AgentVisibility);
    return act(
      () => api.setVisibility(l.namespace, l.name, visibility),
      `${l.title} is now ${visibility ?? l.catalogVisibility}`,
    );
  };

  const revoke = (id: string, holderRef: string) =>
    act(
      () => api.revoke(id),
      `Revoked the entitlement of ${shortRef(holderRef)}`,
    );

  const grant = async (request: AcquireRequest) => {
    const granted = await act(
      () => api.acquire(request),
      entitlement =>
        `Granted ${entitlement.plan} to ${shortRef(entitlement.holderRef)}${
          entitlement.expiresAt
            ? ` until ${entitlement.expiresAt.slice(0, 10)}`
            : ''
        }`,
    );
    if (granted) setGranting(undefined);
  };

  const columns: TableColumn<PublishedListing>[] = [
    { title: 'Agent', field: 'title' },
    { title: 'Version', field: 'version' },
    {
      title: 'Visibility',
      render: l => (
        <Select
          value={
            l.visibility === l.catalogVisibility ? 'catalog' : l.visibility
          }
          disabled={busy}
          onChange={e => change(l, String(e.target.value))}
        >
          <MenuItem value="catalog">
            As in catalog ({l.catalogVisibility})
          </MenuItem>
          {['public', 'internal', 'private', 'preview'].map(v => (
            <MenuItem key={v} value={v}>
              {v}
            </MenuItem>
          ))}
        </Select>
      ),
    },
    {
      title: 'Allowed groups',
      render: l => l.allowedGroups.map(shortRef).join(', ') || '–',
    },
    {
      title: 'Holders',
      render: l =>
        l.entitlements.length
          ? l.entitlements.map(e => (
              <div key={e.id}>
                {shortRef(e.holderRef)} ({e.plan})
                {e.expiresAt ? ` until ${e.expiresAt.slice(0, 10)}` : ''}
                <Button
                  size="small"
                  disabled={busy}
                  onClick={() => revoke(e.id, e.holderRef)}
                >
                  Revoke
                </Button>
              </div>
            ))
          : '–',
    },
    {
      title: '',
      render: l => (
        <Button
          size="small"
          variant="outlined"
          color="primary"
          disabled={busy || !l.plans.length}
          aria-label={`Grant ${l.title}`}
          onClick={() => setGranting(l)}
        >
          Grant
        </Button>
      ),
    },
    { title: 'Runs (30 d)', field: 'runs30d' },
  ];
  return (
    <>
      <Table<PublishedListing>
        title="My listings"
        options={{ paging: false, search: false }}
        columns={columns}
        data={value.items}
        emptyContent={
          <div style={{ padding: 16 }}>You own no agent listings.</div>
        }
      />
      {granting && (
        <GrantDialog
          listing={granting}
          busy={busy}
          onClose={() => setGranting(undefined)}
          onGrant={grant}
        />
      )}
    </>
  );
}
