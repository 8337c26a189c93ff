import { useState } from 'react';
import { useParams } from 'react-router-dom';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { Button, Chip, Grid, Typography } from '@material-ui/core';
import {
  InfoCard,
  Link,
  Progress,
  ResponseErrorPanel,
  Table,
  TableColumn,
} from '@backstage/core-components';
import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { EntityProvider, EntityRefLink } from '@backstage/plugin-catalog-react';
import { AgentSchemaCard } from '@internal/plugin-agents-react';
import { marketplaceApiRef, PlanView } from '../../api';
import { AvailabilityBadge } from '../AvailabilityBadge';
import { formatDuration, formatRate } from '../format';

/** Everything a buyer needs on one page, with Acquire per plan and Run. */
export function ListingPage() {
  const { namespace = 'default', name = '' } = useParams();
  const api = useApi(marketplaceApiRef);
  const alertApi = useApi(alertApiRef);
  const [busy, setBusy] = useState(false);
  const { value: agent, loading, error, retry } = useAsyncRetry(
    () => api.getAgent(namespace, name),
    [namespace, name],
  );

  if (loading && !agent) return <Progress />;
  if (error) return <ResponseErrorPanel error={error} />;
  if (!agent) return null;

  const active = agent.myEntitlements[0];
  const act = async (what: () => Promise<unknown>, message: string) => {
    setBusy(true);
    try {
      await what();
      alertApi.post({ message, severity: 'success', display: 'transient' });
      retry();
    } catch (e) {
      alertApi.post({ message: String((e as Error).message), severity: 'error' });
    } finally {
      setBusy(false);
    }
  };

  const columns: TableColumn<PlanView>[] = [
    { title: 'Plan', render: p => p.title ?? p.name },
    { title: 'Price', field: 'priceText' },
    { title: 'Limits', field: 'limitsText' },
    {
      title: '',
      render: p => {
        if (active?.plan === p.name) return <Chip label="Your plan" color="primary" size="small" />;
        if (active) {
          return (
            <Button size="small" variant="outlined" disabled={busy}
              onClick={() => act(() => api.switchPlan(active.id, p.name), `Switched to ${p.title ?? p.name}`)}>
              Switch to {p.title ?? p.name}
            </Button>
          );
        }
        return (
          <Button size="small" variant="contained" color="primary" disabled={busy}
            onClick={() => act(() => api.acquire({ agentRef: agent.agentRef, plan: p.name }), `Acquired ${p.title ?? p.name}`)}>
            Acquire {p.title ?? p.name}
          </Button>
        );
      },
    },
  ];

  return (
    <Grid container spacing={3}>
      <Grid item xs={12} md={8}>
        <InfoCard title={agent.title} subheader={agent.agentRef}>
          <Typography paragraph>{agent.description}</Typography>
          <Typography variant="body2">
            Owner: <EntityRefLink entityRef={agent.owner} /> · Lifecycle: {agent.lifecycle} · Visibility: {agent.visibility}
          </Typography>
          <Typography variant="body2">
            Version {agent.version} (versions: {agent.versions.join(', ')})
          </Typography>
          <div style={{ marginTop: 8 }}>
            {agent.tags.map(t => <Chip key={t} label={t} size="small" style={{ marginRight: 4 }} />)}
          </div>
        </InfoCard>
      </Grid>
      <Grid item xs={12} md={4}>
        <InfoCard title="Availability">
          <AvailabilityBadge availability={agent.availability} />
          <Typography variant="body2">Success rate (30 days): {formatRate(agent.successRate)}</Typography>
          <Typography variant="body2">Typical duration: {formatDuration(agent.typicalDurationSeconds)}</Typography>
          <Typography variant="body2">Runs (30 days): {agent.runs30d}</Typography>
          <div style={{ marginTop: 12 }}>
            {active && agent.runnable ? (
              <Button variant="contained" color="primary" component={Link as any}
                to={`/catalog/${agent.namespace}/agent/${agent.name}/runs`}>
                Run
              </Button>
            ) : (
              <Typography variant="caption">
                {agent.runnable ? 'Acquire a plan to run this agent.' : 'Preview: acquirable, not runnable yet.'}
              </Typography>
            )}
          </div>
          {active && (
            <Button size="small" disabled={busy} style={{ marginTop: 8 }}
              onClick={() => act(() => api.cancel(active.id), 'Entitlement cancelled')}>
              Cancel my plan
            </Button>
          )}
        </InfoCard>
      </Grid>
      <Grid item xs={12}>
        <Table<PlanView>
          title={`Plans (${agent.currency})`}
          options={{ paging: false, search: false }}
          columns={columns}
          data={agent.plans}
        />
      </Grid>
      <Grid item xs={12} md={6}>
        <EntityProvider entity={agent.entity}>
          <AgentSchemaCard which="input" />
        </EntityProvider>
      </Grid>
    </Grid>
  );
}
