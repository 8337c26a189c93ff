import { useState } from 'react';
import { useParams } from 'react-router-dom';
import useAsync from 'react-use/esm/useAsync';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import {
  Button,
  Chip,
  Grid,
  MenuItem,
  TextField,
  Typography,
} from '@material-ui/core';
import {
  InfoCard,
  Link,
  Progress,
  ResponseErrorPanel,
  Table,
  TableColumn,
} from '@backstage/core-components';
import { identityApiRef, useApi } from '@backstage/core-plugin-api';
import { EntityProvider, EntityRefLink } from '@backstage/plugin-catalog-react';
import { AgentSchemaCard } from '@internal/plugin-agents-react';
import { marketplaceApiRef, PlanView } from '../../api';
import { AvailabilityBadge } from '../AvailabilityBadge';
import { formatDuration, formatRate, shortRef } from '../format';
import { useMarketplaceAction } from '../useMarketplaceAction';

const ME = 'me';

/**
 * Everything a buyer needs on one page, with Acquire per plan and Run. A team plan is acquired
 * by choosing one of the caller's groups in "For"; the plans table then acts on that holder.
 */
export function ListingPage() {
  const { namespace = 'default', name = '' } = useParams();
  const api = useApi(marketplaceApiRef);
  const identityApi = useApi(identityApiRef);
  const [holder, setHolder] = useState<string>(ME);
  const { value: groups = [] } = useAsync(async () => {
    const identity = await identityApi.getBackstageIdentity();
    return identity.ownershipEntityRefs.filter(ref => ref.startsWith('group:'));
  }, [identityApi]);
  const {
    value: agent,
    loading,
    error,
    retry,
  } = useAsyncRetry(() => api.getAgent(namespace, name), [namespace, name]);
  const { busy, act } = useMarketplaceAction(retry);

  if (loading && !agent) return <Progress />;
  if (error) return <ResponseErrorPanel error={error} />;
  if (!agent) return null;

  // The backend returns the active entitlements of the caller and of the caller's groups.
  const active = agent.myEntitlements.find(e =>
    holder === ME ? e.holderRef.startsWith('user:') : e.holderRef === holder,
  );
  const forWhom = holder === ME ? '' : ` for ${shortRef(holder)}`;

  const columns: TableColumn<PlanView>[] = [
    { title: 'Plan', render: p => p.title ?? p.name },
    { title: 'Price', field: 'priceText' },
    { title: 'Limits', field: 'limitsText' },
    {
      title: '',
      render: p => {
        if (active?.plan === p.name)
          return <Chip label="Your plan" color="primary" size="small" />;
        if (active) {
          return (
            <Button
              size="small"
              variant="outlined"
              disabled={busy}
              onClick={() =>
                act(
                  () => api.switchPlan(active.id, p.name),
                  `Switched to ${p.title ?? p.name}${forWhom}`,
                )
              }
            >
              Switch to {p.title ?? p.name}
            </Button>
          );
        }
        return (
          <Button
            size="small"
            variant="contained"
            color="primary"
            disabled={busy}
            onClick={() =>
              act(
                () =>
                  api.acquire({
                    agentRef: agent.agentRef,
                    plan: p.name,
                    ...(holder === ME ? {} : { holderRef: holder }),
                  }),
                `Acquired ${p.title ?? p.name}${forWhom}`,
              )
            }
          >
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
            Owner: <EntityRefLink entityRef={agent.owner} /> · Lifecycle:{' '}
            {agent.lifecycle} · Visibility: {agent.visibility}
          </Typography>
          <Typography variant="body2">
            Version {agent.version} (versions: {agent.versions.join(', ')})
          </Typography>
          <div style={{ marginTop: 8 }}>
            {agent.tags.map(t => (
              <Chip key={t} label={t} size="small" style={{ marginRight: 4 }} />
            ))}
          </div>
        </InfoCard>
      </Grid>
      <Grid item xs={12} md={4}>
        <InfoCard title="Availability">
          <AvailabilityBadge availability={agent.availability} />
          <Typography variant="body2">
            Success rate (30 days): {formatRate(agent.successRate)}
          </Typography>
          <Typography variant="body2">
            Typical duration: {formatDuration(agent.typicalDurationSeconds)}
          </Typography>
          <Typography variant="body2">
            Runs (30 days): {agent.runs30d}
          </Typography>
          <div style={{ marginTop: 12 }}>
            {agent.myEntitlements.length > 0 && agent.runnable ? (
              <Button
                variant="contained"
                color="primary"
                component={Link as any}
                to={`/catalog/${agent.namespace}/agent/${agent.name}/runs`}
              >
                Run
              </Button>
            ) : (
              <Typography variant="caption">
                {agent.runnable
                  ? 'Acquire a plan to run this agent.'
                  : 'Preview: acquirable, not runnable yet.'}
              </Typography>
            )}
          </div>
          {agent.myEntitlements.length > 0 && (
            <Typography variant="body2" style={{ marginTop: 8 }}>
              Held by:{' '}
              {[...agent.myEntitlements]
                // Mine first, then my groups by name.
                .sort(
                  (a, b) =>
                    Number(b.holderRef.startsWith('user:')) -
                      Number(a.holderRef.startsWith('user:')) ||
                    a.holderRef.localeCompare(b.holderRef),
                )
                .map(
                  e =>
                    `${
                      e.holderRef.startsWith('user:')
                        ? 'me'
                        : shortRef(e.holderRef)
                    } (${e.plan})`,
                )
                .join(', ')}
            </Typography>
          )}
          {active && (
            <Button
              size="small"
              disabled={busy}
              style={{ marginTop: 8 }}
              onClick={() =>
                act(
                  () => api.cancel(active.id),
                  `Entitlement${forWhom} cancelled`,
                )
              }
            >
              {holder === ME
                ? 'Cancel my plan'
                : `Cancel the plan of ${shortRef(holder)}`}
            </Button>
          )}
        </InfoCard>
      </Grid>
      {groups.length > 0 && (
        <Grid item xs={12}>
          <TextField
            select
            id="acquire-for"
            label="For"
            value={holder}
            style={{ minWidth: 240 }}
            helperText="Acquire for yourself or as a team plan for one of your groups"
            SelectProps={{
              SelectDisplayProps: { 'aria-label': 'Acquire for' } as any,
            }}
            onChange={e => setHolder(String(e.target.value))}
          >
            <MenuItem value={ME}>Me</MenuItem>
            {groups.map(g => (
              <MenuItem key={g} value={g}>
                {shortRef(g)}
              </MenuItem>
            ))}
          </TextField>
        </Grid>
      )}
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
