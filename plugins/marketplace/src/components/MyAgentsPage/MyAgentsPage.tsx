import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { Button, MenuItem, Select } from '@material-ui/core';
import {
  Link,
  Progress,
  ResponseErrorPanel,
  Table,
  TableColumn,
} from '@backstage/core-components';
import { useApi, useRouteRef } from '@backstage/core-plugin-api';
import { marketplaceApiRef, MyEntitlement } from '../../api';
import { rootRouteRef } from '../../routes';
import { formatMoney, shortRef } from '../format';
import { useMarketplaceAction } from '../useMarketplaceAction';

/** What I (and my teams) have acquired, usage against limits, cost; cancel or switch. */
export function MyAgentsPage() {
  const api = useApi(marketplaceApiRef);
  const root = useRouteRef(rootRouteRef)();
  const { value, loading, error, retry } = useAsyncRetry(
    () => api.myEntitlements(),
    [],
  );
  const { busy, act } = useMarketplaceAction(retry);

  if (loading && !value) return <Progress />;
  if (error) return <ResponseErrorPanel error={error} />;
  if (!value) return null;

  const columns: TableColumn<MyEntitlement>[] = [
    {
      title: 'Agent',
      render: e => {
        const [, ns, name] = e.agentRef.match(/^agent:([^/]+)\/(.+)$/) ?? [];
        return <Link to={`${root}/agents/${ns}/${name}`}>{e.agentTitle}</Link>;
      },
    },
    { title: 'Holder', render: e => shortRef(e.holderRef) },
    {
      title: 'Plan',
      render: e => (
        <Select
          value={e.plan}
          disabled={busy || e.plans.length < 2}
          onChange={ev =>
            act(
              () => api.switchPlan(e.id, String(ev.target.value)),
              'Plan switched',
            )
          }
        >
          {e.plans.map(p => (
            <MenuItem key={p.name} value={p.name}>
              {p.title ?? p.name}
            </MenuItem>
          ))}
        </Select>
      ),
    },
    { title: 'Price', render: e => e.planDetails?.priceText ?? '–' },
    {
      title: 'Runs today',
      render: e =>
        `${e.usage.runsToday}${
          e.planDetails?.runsPerDay !== undefined
            ? ` / ${e.planDetails.runsPerDay}`
            : ''
        }`,
    },
    {
      title: 'Runs this period',
      render: e =>
        `${e.usage.runs}${
          e.planDetails?.includedRuns !== undefined
            ? ` / ${e.planDetails.includedRuns} included`
            : ''
        }`,
    },
    { title: 'Compute', render: e => `${e.usage.computeSeconds.toFixed(1)} s` },
    { title: 'Cost', render: e => formatMoney(e.usage.cost, value.currency) },
    { title: 'Status', render: e => (e.expired ? 'expired' : e.status) },
    {
      title: '',
      render: e => (
        <Button
          size="small"
          disabled={busy}
          onClick={() => act(() => api.cancel(e.id), 'Entitlement cancelled')}
        >
          Cancel
        </Button>
      ),
    },
  ];

  return (
    <Table<MyEntitlement>
      title="My agents"
      options={{ paging: false, search: false }}
      columns={columns}
      data={value.items}
      emptyContent={
        <div style={{ padding: 16 }}>You have not acquired any agent yet.</div>
      }
    />
  );
}
