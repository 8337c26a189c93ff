import { useState } from 'react';
import useAsync from 'react-use/esm/useAsync';
import useDebounce from 'react-use/esm/useDebounce';
import {
  Card,
  CardActions,
  CardContent,
  Chip,
  FormControl,
  Grid,
  InputLabel,
  MenuItem,
  Select,
  TablePagination,
  TextField,
  Typography,
} from '@material-ui/core';
import ToggleButton from '@material-ui/lab/ToggleButton';
import ToggleButtonGroup from '@material-ui/lab/ToggleButtonGroup';
import {
  Link,
  Progress,
  ResponseErrorPanel,
  Table,
  TableColumn,
} from '@backstage/core-components';
import { useApi, useRouteRef } from '@backstage/core-plugin-api';
import { ListingSummary, marketplaceApiRef } from '../../api';
import { rootRouteRef } from '../../routes';
import { AvailabilityBadge } from '../AvailabilityBadge';
import { formatRate, shortRef } from '../format';

type Filters = {
  pricing: string;
  visibility: string;
  availability: string;
  sort: 'name' | 'popularity' | 'successRate' | 'newest';
};

function FilterSelect(props: {
  label: string;
  value: string;
  options: [string, string][];
  onChange: (value: string) => void;
}) {
  const id = `marketplace-filter-${props.label
    .toLowerCase()
    .replace(/\s+/g, '-')}`;
  return (
    <FormControl variant="outlined" size="small" fullWidth>
      <InputLabel id={id}>{props.label}</InputLabel>
      <Select
        labelId={id}
        label={props.label}
        value={props.value}
        onChange={e => props.onChange(String(e.target.value))}
      >
        {props.options.map(([value, label]) => (
          <MenuItem key={value} value={value}>
            {label}
          </MenuItem>
        ))}
      </Select>
    </FormControl>
  );
}

/** Search, filter, sort and page agent listings; all on the server. */
export function DiscoveryPage() {
  const api = useApi(marketplaceApiRef);
  const root = useRouteRef(rootRouteRef)();
  const [view, setView] = useState<'cards' | 'table'>('cards');
  const [search, setSearch] = useState('');
  const [q, setQ] = useState('');
  const [tags, setTags] = useState('');
  const [owner, setOwner] = useState('');
  const [filters, setFilters] = useState<Filters>({
    pricing: '',
    visibility: '',
    availability: '',
    sort: 'name',
  });
  const [page, setPage] = useState(0);
  const [pageSize, setPageSize] = useState(12);
  useDebounce(
    () => {
      setQ(search);
      setPage(0);
    },
    300,
    [search],
  );

  const { value, loading, error } = useAsync(
    () =>
      api.listAgents({
        q,
        tags: tags
          ? tags
              .split(',')
              .map(t => t.trim())
              .filter(Boolean)
          : undefined,
        owner: owner || undefined,
        pricing: filters.pricing ? [filters.pricing] : undefined,
        visibility: filters.visibility ? [filters.visibility] : undefined,
        availability: filters.availability ? [filters.availability] : undefined,
        sort: filters.sort,
        page: page + 1,
        pageSize,
      }),
    [q, tags, owner, filters, page, pageSize],
  );
  const setFilter = (key: keyof Filters) => (v: string) => {
    setFilters(f => ({ ...f, [key]: v }));
    setPage(0);
  };
  const linkTo = (l: ListingSummary) =>
    `${root}/agents/${l.namespace}/${l.name}`;

  const columns: TableColumn<ListingSummary>[] = [
    {
      title: 'Agent',
      field: 'title',
      render: l => <Link to={linkTo(l)}>{l.title}</Link>,
    },
    { title: 'Owner', render: l => shortRef(l.owner) },
    {
      title: 'Pricing',
      render: l => l.plans.map(p => p.priceText).join(' / '),
    },
    { title: 'Visibility', field: 'visibility' },
    {
      title: 'Availability',
      render: l => <AvailabilityBadge availability={l.availability} />,
    },
    { title: 'Runs (30 d)', field: 'runs30d' },
    { title: 'Success', render: l => formatRate(l.successRate) },
  ];

  return (
    <Grid container spacing={2}>
      <Grid item xs={12} md={6}>
        <TextField
          label="Search agents"
          variant="outlined"
          size="small"
          fullWidth
          value={search}
          onChange={e => setSearch(e.target.value)}
          inputProps={{ 'aria-label': 'Search agents' }}
        />
      </Grid>
      <Grid item xs={6} md={3}>
        <TextField
          label="Tags"
          variant="outlined"
          size="small"
          fullWidth
          value={tags}
          onChange={e => {
            setTags(e.target.value);
            setPage(0);
          }}
        />
      </Grid>
      <Grid item xs={6} md={3}>
        <TextField
          label="Owner"
          variant="outlined"
          size="small"
          fullWidth
          value={owner}
          onChange={e => {
            setOwner(e.target.value);
            setPage(0);
          }}
        />
      </Grid>
      <Grid item xs={6} md={3}>
        <FilterSelect
          label="Pricing"
          value={filters.pricing}
          onChange={setFilter('pricing')}
          options={[
            ['', 'Any'],
            ['free', 'Free'],
            ['per-run', 'Per run'],
            ['subscription', 'Subscription'],
            ['metered', 'Metered'],
          ]}
        />
      </Grid>
      <Grid item xs={6} md={3}>
        <FilterSelect
          label="Visibility"
          value={filters.visibility}
          onChange={setFilter('visibility')}
          options={[
            ['', 'Any'],
            ['public', 'Public'],
            ['internal', 'Internal'],
            ['private', 'Private'],
            ['preview', 'Preview'],
          ]}
        />
      </Grid>
      <Grid item xs={6} md={3}>
        <FilterSelect
          label="Availability"
          value={filters.availability}
          onChange={setFilter('availability')}
          options={[
            ['', 'Any'],
            ['available', 'Available'],
            ['degraded', 'Degraded'],
            ['unavailable', 'Unavailable'],
            ['preview', 'Preview'],
            ['unknown', 'Unknown'],
          ]}
        />
      </Grid>
      <Grid item xs={6} md={3}>
        <FilterSelect
          label="Sort"
          value={filters.sort}
          onChange={setFilter('sort')}
          options={[
            ['name', 'Name'],
            ['popularity', 'Popularity'],
            ['successRate', 'Success rate'],
            ['newest', 'Newest'],
          ]}
        />
      </Grid>
      <Grid
        item
        xs={12}
        style={{
          display: 'flex',
          justifyContent: 'space-between',
          alignItems: 'center',
        }}
      >
        <Typography variant="body2">
          {value ? `${value.totalCount} agents` : ' '}
        </Typography>
        <ToggleButtonGroup
          size="small"
          exclusive
          value={view}
          onChange={(_e, v) => v && setView(v)}
        >
          <ToggleButton value="cards" aria-label="Cards view">
            Cards
          </ToggleButton>
          <ToggleButton value="table" aria-label="Table view">
            Table
          </ToggleButton>
        </ToggleButtonGroup>
      </Grid>
      <Grid item xs={12}>
        {loading && <Progress />}
        {error && <ResponseErrorPanel error={error} />}
        {value && !loading && view === 'table' && (
          <Table<ListingSummary>
            title="Agents"
            options={{ paging: false, search: false, padding: 'dense' }}
            columns={columns}
            data={value.items}
          />
        )}
        {value && !loading && view === 'cards' && (
          <Grid container spacing={2}>
            {value.items.map(l => (
              <Grid item xs={12} sm={6} md={4} key={l.agentRef}>
                <Card variant="outlined" data-testid={`agent-card-${l.name}`}>
                  <CardContent>
                    <Typography variant="h6">
                      <Link to={linkTo(l)}>{l.title}</Link>
                    </Typography>
                    <Typography
                      variant="body2"
                      color="textSecondary"
                      gutterBottom
                    >
                      {shortRef(l.owner)} · v{l.version} · {l.visibility}
                    </Typography>
                    <Typography variant="body2" paragraph>
                      {l.description}
                    </Typography>
                    <Typography variant="body2">
                      {l.plans.map(p => p.priceText).join(' / ')}
                    </Typography>
                    <AvailabilityBadge availability={l.availability} />
                    <Typography variant="caption" display="block">
                      {l.runs30d} runs in 30 days · success{' '}
                      {formatRate(l.successRate)}
                    </Typography>
                  </CardContent>
                  <CardActions>
                    {l.tags.map(t => (
                      <Chip key={t} label={t} size="small" />
                    ))}
                  </CardActions>
                </Card>
              </Grid>
            ))}
            {value.items.length === 0 && (
              <Grid item xs={12}>
                <Typography>No agents match.</Typography>
              </Grid>
            )}
          </Grid>
        )}
        {value && (
          <TablePagination
            component="div"
            count={value.totalCount}
            page={page}
            rowsPerPage={pageSize}
            rowsPerPageOptions={[12, 24, 48, 96]}
            onPageChange={(_e, p) => setPage(p)}
            onRowsPerPageChange={e => {
              setPageSize(Number(e.target.value));
              setPage(0);
            }}
          />
        )}
      </Grid>
    </Grid>
  );
}
