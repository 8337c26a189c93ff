import { useState } from 'react';
import { Route, Routes, useNavigate } from 'react-router-dom';
import Grid from '@material-ui/core/Grid';
import { useEntity } from '@backstage/plugin-catalog-react';
import { usePermission } from '@backstage/plugin-permission-react';
import { stringifyEntityRef } from '@backstage/catalog-model';
import { WarningPanel } from '@backstage/core-components';
import {
  AgentEntity,
  agentExecutionCreatePermission,
} from '@internal/plugin-agents-common';
import { RunForm } from '../RunForm';
import { RunsTable } from '../RunsTable';
import { ExecutionPage } from '../ExecutionPage';

function RunsOverview() {
  const { entity } = useEntity<AgentEntity>();
  const agentRef = stringifyEntityRef(entity);
  const navigate = useNavigate();
  const [refreshKey, setRefreshKey] = useState(0);
  const canRun = usePermission({
    permission: agentExecutionCreatePermission,
    resourceRef: agentRef,
  });
  const preview = entity.spec.marketplace?.visibility === 'preview';
  return (
    <Grid container spacing={3}>
      <Grid item xs={12}>
        {preview ? (
          <WarningPanel
            title="This agent is in preview"
            message="Preview agents cannot be run yet."
          />
        ) : (
          canRun.allowed && (
            <RunForm
              entity={entity}
              onStarted={e => {
                setRefreshKey(k => k + 1);
                navigate(e.id);
              }}
            />
          )
        )}
      </Grid>
      <Grid item xs={12}>
        <RunsTable
          agentRef={agentRef}
          linkTo={id => id}
          refreshKey={refreshKey}
        />
      </Grid>
    </Grid>
  );
}

/**
 * The "Runs" tab of an Agent entity page: run form and history, and each
 * run's page under `<tab>/<executionId>`.
 *
 * @public
 */
export function EntityAgentRunsContent() {
  return (
    <Routes>
      <Route path="/" element={<RunsOverview />} />
      <Route path="/:executionId" element={<ExecutionPage backTo=".." />} />
    </Routes>
  );
}
