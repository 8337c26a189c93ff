import { useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import useInterval from 'react-use/esm/useInterval';
import FormControl from '@material-ui/core/FormControl';
import InputLabel from '@material-ui/core/InputLabel';
import MenuItem from '@material-ui/core/MenuItem';
import Select from '@material-ui/core/Select';
import Box from '@material-ui/core/Box';
import { Link, Table, TableColumn } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  EXECUTION_TRANSITIONS,
  ExecutionState,
} from '@internal/plugin-agents-common';
import { productControlPlaneApiRef } from '../../api/ProductControlPlaneApi';
import { Execution } from '../../api/types';
import { ExecutionStatusChip } from '../ExecutionStatusChip';
import { formatCost, formatDuration, formatTime, shortRef } from '../format';

const STATES = Object.keys(EXECUTION_TRANSITIONS) as ExecutionState[];

/** The run history of one agent, with state and user filters. */
export function RunsTable(props: {
  agentRef: string;
  /** Relative link to an execution's page. */
  linkTo: (id: string) => string;
  refreshKey?: number;
}) {
  const api = useApi(productControlPlaneApiRef);
  const [state, setState] = useState<ExecutionState | ''>('');
  const [user, setUser] = useState<string>('');
  const [page, setPage] = useState(0);
  const [pageSize, setPageSize] = useState(10);

  const { value, loading, error, retry } = useAsyncRetry(
    () =>
      api.listExecutions({
        agentRef: props.agentRef,
        state: state ? [state] : undefined,
        user: user || undefined,
        limit: pageSize,
        offset: page * pageSize,
      }),
    [api, props.agentRef, state, user, page, pageSize, props.refreshKey],
  );
  useInterval(retry, 5000);

  const users = Array.from(new Set((value?.items ?? []).map(e => e.userRef)));
  const columns: TableColumn<Execution>[] = [
    {
      title: 'Status',
      field: 'state',
      render: e => <ExecutionStatusChip state={e.state} />,
    },
    {
      title: 'Run',
      field: 'id',
      render: e => <Link to={props.linkTo(e.id)}>{e.id.slice(0, 8)}</Link>,
    },
    { title: 'Who', field: 'userRef', render: e => shortRef(e.userRef) },
    { title: 'When', field: 'createdAt', render: e => formatTime(e.createdAt) },
    { title: 'Version', field: 'agentVersion' },
    { title: 'Plan', field: 'plan' },
    {
      title: 'Duration',
      field: 'durationMs',
      render: e => formatDuration(e.durationMs),
    },
    { title: 'Cost', field: 'cost', render: e => formatCost(e.cost) },
  ];

  return (
    <>
      <Box display="flex" style={{ gap: 16 }} mt={1}>
        <FormControl size="small" style={{ minWidth: 160 }}>
          <InputLabel id="runs-state-filter">State</InputLabel>
          <Select
            labelId="runs-state-filter"
            value={state}
            onChange={e => {
              setState(e.target.value as ExecutionState | '');
              setPage(0);
            }}
            data-testid="runs-state-filter"
          >
            <MenuItem value="">All</MenuItem>
            {STATES.map(s => (
              <MenuItem key={s} value={s}>
                {s}
              </MenuItem>
            ))}
          </Select>
        </FormControl>
        <FormControl size="small" style={{ minWidth: 160 }}>
          <InputLabel id="runs-user-filter">Who</InputLabel>
          <Select
            labelId="runs-user-filter"
            value={user}
            onChange={e => {
              setUser(e.target.value as string);
              setPage(0);
            }}
          >
            <MenuItem value="">Everyone</MenuItem>
            {Array.from(new Set([...users, ...(user ? [user] : [])])).map(u => (
              <MenuItem key={u} value={u}>
                {shortRef(u)}
              </MenuItem>
            ))}
          </Select>
        </FormControl>
      </Box>
      <Table<Execution>
        title="Run history"
        isLoading={loading && !value}
        data={value?.items ?? []}
        columns={columns}
        page={page}
        totalCount={value?.totalCount ?? 0}
        onPageChange={setPage}
        onRowsPerPageChange={setPageSize}
        options={{
          search: false,
          paging: true,
          pageSize,
          pageSizeOptions: [10, 20, 50],
          padding: 'dense',
        }}
        emptyContent={
          <Box p={2}>
            {error ? `Could not load runs: ${error.message}` : 'No runs yet.'}
          </Box>
        }
      />
    </>
  );
}
