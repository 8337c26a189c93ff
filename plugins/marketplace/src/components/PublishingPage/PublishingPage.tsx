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
import { marketplaceApiRef, PublishedListing } from '../../api';
import { shortRef } from '../format';

/** Owners: their listings, visibility changes and who holds entitlements. */
export function PublishingPage() {
  const api = useApi(marketplaceApiRef);
  const alertApi = useApi(alertApiRef);
  const [busy, setBusy] = useState(false);
  const { value, loading, error, retry } = useAsyncRetry(() => api.publishing(), []);
  if (loading && !value) return <Progress />;
  if (error) return <ResponseErrorPanel error={error} />;
  if (!value) return null;

  const change = async (l: PublishedListing, v: string) => {
    setBusy(true);
    try {
      const visibility = v === 'catalog' ? null : (v as AgentVisibility);
      await api.setVisibility(l.namespace, l.name, visibility);
      alertApi.post({ message: `${l.title} is now ${visibility ?? l.catalogVisibility}`, severity: 'success', display: 'transient' });
      retry();
    } catch (e) {
      alertApi.post({ message: String((e as Error).message), severity: 'error' });
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (id: string, holderRef: string) => {
    setBusy(true);
    try {
      await api.revoke(id);
      alertApi.post({ message: `Revoked the entitlement of ${shortRef(holderRef)}`, severity: 'success', display: 'transient' });
      retry();
    } catch (e) {
      alertApi.post({ message: String((e as Error).message), severity: 'error' });
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
        <Select value={l.visibility === l.catalogVisibility ? 'catalog' : l.visibility} disabled={busy}
          onChange={e => change(l, String(e.target.value))}>
          <MenuItem value="catalog">As in catalog ({l.catalogVisibility})</MenuItem>
          {['public', 'internal', 'private', 'preview'].map(v => <MenuItem key={v} value={v}>{v}</MenuItem>)}
        </Select>
      ),
    },
    { title: 'Allowed groups', render: l => l.allowedGroups.map(shortRef).join(', ') || '–' },
    {
      title: 'Holders',
      render: l =>
        l.entitlements.length
          ? l.entitlements.map(e => (
              <div key={e.id}>
                {shortRef(e.holderRef)} ({e.plan})
                <Button size="small" disabled={busy} onClick={() => revoke(e.id, e.holderRef)}>
                  Revoke
                </Button>
              </div>
            ))
          : '–',
    },
    { title: 'Runs (30 d)', field: 'runs30d' },
  ];
  return (
    <Table<PublishedListing>
      title="My listings"
      options={{ paging: false, search: false }}
      columns={columns}
      data={value.items}
      emptyContent={<div style={{ padding: 16 }}>You own no agent listings.</div>}
    />
  );
}
