import { useState } from 'react';
import Form from '@rjsf/material-ui';
import validator from '@rjsf/validator-ajv8';
import { RJSFSchema } from '@rjsf/utils';
import Button from '@material-ui/core/Button';
import FormControl from '@material-ui/core/FormControl';
import Grid from '@material-ui/core/Grid';
import InputLabel from '@material-ui/core/InputLabel';
import MenuItem from '@material-ui/core/MenuItem';
import Select from '@material-ui/core/Select';
import Typography from '@material-ui/core/Typography';
import { InfoCard, Link, WarningPanel } from '@backstage/core-components';
import { useApi, useRouteRef } from '@backstage/core-plugin-api';
import { JsonObject } from '@backstage/types';
import { stringifyEntityRef } from '@backstage/catalog-model';
import {
  AgentEntity,
  formatPlanLimits,
  formatPlanPrice,
} from '@internal/plugin-agents-common';
import { productControlPlaneApiRef } from '../../api/ProductControlPlaneApi';
import { Execution } from '../../api/types';
import {
  Refusal,
  isConcurrencyRefusal,
  isEntitlementRefusal,
  refusalOf,
} from '../../api/refusal';
import { marketplaceListingRouteRef } from '../../routes';

/**
 * The run form: fields generated from the agent's input schema, plus mode
 * and plan. Calls `onStarted` with the new execution.
 */
export function RunForm(props: {
  entity: AgentEntity;
  onStarted: (execution: Execution) => void;
  disabled?: boolean;
}) {
  const { entity } = props;
  const api = useApi(productControlPlaneApiRef);
  const listingLink = useRouteRef(marketplaceListingRouteRef);
  const [refusal, setRefusal] = useState<Refusal>();
  const plans = entity.spec.marketplace?.plans ?? [];
  const [plan, setPlan] = useState<string>(plans[0]?.name ?? '');
  const [mode, setMode] = useState<'async' | 'sync'>('async');
  const [formData, setFormData] = useState<JsonObject>({});
  const [submitting, setSubmitting] = useState(false);

  const submit = async (input: JsonObject) => {
    setSubmitting(true);
    setRefusal(undefined);
    try {
      const execution = await api.createExecution({
        agentRef: stringifyEntityRef(entity),
        input,
        mode,
        ...(plan ? { plan } : {}),
      });
      props.onStarted(execution);
    } catch (e) {
      setRefusal(refusalOf(e));
    } finally {
      setSubmitting(false);
    }
  };

  return (
    <InfoCard title={`Run ${entity.metadata.title ?? entity.metadata.name}`}>
      <Grid container spacing={2}>
        <Grid item xs={12} sm={6}>
          <FormControl fullWidth variant="outlined" size="small">
            <InputLabel id="run-plan-label">Plan</InputLabel>
            <Select
              labelId="run-plan-label"
              label="Plan"
              value={plan}
              onChange={e => setPlan(e.target.value as string)}
              data-testid="run-plan"
            >
              {plans.map(p => (
                <MenuItem key={p.name} value={p.name}>
                  {p.title ?? p.name} — {formatPlanPrice(p)} ·{' '}
                  {formatPlanLimits(p)}
                </MenuItem>
              ))}
            </Select>
          </FormControl>
        </Grid>
        <Grid item xs={12} sm={6}>
          <FormControl fullWidth variant="outlined" size="small">
            <InputLabel id="run-mode-label">Mode</InputLabel>
            <Select
              labelId="run-mode-label"
              label="Mode"
              value={mode}
              onChange={e => setMode(e.target.value as 'async' | 'sync')}
              data-testid="run-mode"
            >
              <MenuItem value="async">Async (return at once)</MenuItem>
              <MenuItem value="sync">Sync (wait for the result)</MenuItem>
            </Select>
          </FormControl>
        </Grid>
        {refusal && (
          <Grid item xs={12}>
            <WarningPanel
              severity="error"
              title="Run refused"
              message={refusal.message}
              defaultExpanded
            >
              {isEntitlementRefusal(refusal) && listingLink && (
                <Link
                  to={listingLink({
                    namespace: entity.metadata.namespace ?? 'default',
                    name: entity.metadata.name,
                  })}
                >
                  Acquire a plan for this agent
                </Link>
              )}
              {isConcurrencyRefusal(refusal) && (
                <Typography variant="body2">
                  All the concurrent runs your plan allows are in use: wait for
                  one of the runs listed below to end, or cancel one.
                </Typography>
              )}
            </WarningPanel>
          </Grid>
        )}
        <Grid item xs={12}>
          <Typography variant="subtitle2">Input</Typography>
          <Form
            schema={entity.spec.input as RJSFSchema}
            validator={validator}
            formData={formData}
            onChange={e => setFormData(e.formData)}
            onSubmit={e => submit(e.formData as JsonObject)}
            disabled={submitting || props.disabled}
            showErrorList={false}
          >
            <Button
              type="submit"
              variant="contained"
              color="primary"
              disabled={submitting || props.disabled}
            >
              {submitting ? 'Starting…' : 'Start run'}
            </Button>
          </Form>
        </Grid>
      </Grid>
    </InfoCard>
  );
}
