import { useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { Button, MenuItem, Select } from '@material-ui/core';
import {
  Progress,
  ResponseErrorPanel,
  Table,
  TableColumn,
} from '@backstage/core-components';
import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { AgentVisibility } from '@internal/plugin-agents-common';
import { AcquireRequest, marketplaceApiRef, PublishedListing } from '../../api';
import { shortRef } from '../format';
import { GrantDialog } from './GrantDialog';

/** Owners: their listings, visibility changes, who holds entitlements, grants and revocations. */
export function PublishingPage() {
  const api = useApi(marketplaceApiRef);
  const alertApi = useApi(alertApiRef);
  const [busy, setBusy] = useState(false);
  const [granting, setGranting] = useState<PublishedListing | undefined>();
  const { value, loading, error, retry } = useAsyncRetry(
    () => api.publishing(),
    [],
  );
  if (loading && !value) return <Progress />;
  if (error) return <ResponseErrorPanel error={error} />;
  if (!value) return null;

  const change = async (l: PublishedListing, v: string) => {
    setBusy(true);
    try {
      const visibility = v === 'catalog' ? null : (v as AgentVisibility);
      await api.setVisibility(l.namespace, l.name, visibility);
      alertApi.post({
        message: `${l.title} is now ${visibility ?? l.catalogVisibility}`,
        severity: 'success',
        display: 'transient',
      });
      retry();
    } catch (e) {
      alertApi.post({
        message: String((e as Error).message),
        severity: 'error',
      });
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (id: string, holderRef: string) => {
    setBusy(true);
    try {
      await api.revoke(id);
      alertApi.post({
        message: `Revoked the entitlement of ${shortRef(holderRef)}`,
        severity: 'success',
        display: 'transient',
      });
      retry();
    } catch (e) {
      alertApi.post({
        message: String((e as Error).message),
        severity: 'error',
      });
    } finally {
      setBusy(false);
    }
  };

  const grant = async (request: AcquireRequest) => {
    setBusy(true);
    try {
      const entitlement = await api.acquire(request);
      const until = entitlement.expiresAt
        ? ` until ${entitlement.expiresAt.slice(0, 10)}`
        : '';
      alertApi.post({
        message: `Granted ${entitlement.plan} to ${shortRef(
          entitlement.holderRef,
        )}${until}`,
        severity: 'success',
        display: 'transient',
      });
      setGranting(undefined);
      retry();
    } catch (e) {
      alertApi.post({
        message: String((e as Error).message),
        severity: 'error',
      });
    } finally {
      setBusy(false);
    }
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
