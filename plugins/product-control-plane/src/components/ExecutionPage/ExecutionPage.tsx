import { useEffect, useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Grid from '@material-ui/core/Grid';
import Typography from '@material-ui/core/Typography';
import {
  CodeSnippet,
  InfoCard,
  Link,
  LogViewer,
  Progress,
  StructuredMetadataTable,
  WarningPanel,
} from '@backstage/core-components';
import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  agentExecutionCancelPermission,
  agentExecutionCreatePermission,
  isTerminalExecutionState,
} from '@internal/plugin-agents-common';
import { productControlPlaneApiRef } from '../../api/ProductControlPlaneApi';
import { Execution, ExecutionLogLine } from '../../api/types';
import { ExecutionStatusChip } from '../ExecutionStatusChip';
import { formatCost, formatDuration, formatTime, shortRef } from '../format';

function logText(lines: ExecutionLogLine[]): string {
  if (!lines.length) return 'No log lines yet.';
  return lines
    .map(
      l =>
        `${l.ts ? `${l.ts} ` : ''}${l.level ? `[${l.level}] ` : ''}${
          l.message
        }`,
    )
    .join('\n');
}

function resultNote(terminal: boolean, truncated: boolean): string {
  if (!terminal) return 'Waiting for the result…';
  return truncated ? 'The result was too large to keep.' : 'No result.';
}

/** Live state, logs and result of one execution, with Cancel and Re-run. */
export function ExecutionPage(props: {
  executionId?: string;
  backTo?: string;
}) {
  const params = useParams();
  const id = props.executionId ?? params.executionId!;
  const api = useApi(productControlPlaneApiRef);
  const alertApi = useApi(alertApiRef);
  const navigate = useNavigate();
  const [execution, setExecution] = useState<Execution>();
  const [lines, setLines] = useState<ExecutionLogLine[]>([]);
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);

  const canCancel = usePermission({
    permission: agentExecutionCancelPermission,
  });
  const canRerun = usePermission({
    permission: agentExecutionCreatePermission,
    resourceRef: execution?.agentRef,
  });

  useEffect(() => {
    const abort = new AbortController();
    let stopped = false;
    setLines([]);
    setExecution(undefined);
    api.getExecution(id).then(setExecution, setError);
    // Live: the event stream; if it breaks, poll state and logs instead.
    api
      .streamEvents(
        id,
        event => {
          if (event.type === 'state') setExecution(event.execution);
          else setLines(prev => [...prev, event.line]);
        },
        abort.signal,
      )
      .catch(async () => {
        while (!stopped) {
          try {
            const [e, logs] = await Promise.all([
              api.getExecution(id),
              api.getLogs(id),
            ]);
            setExecution(e);
            setLines(logs);
            if (isTerminalExecutionState(e.state)) return;
          } catch (e) {
            setError(e as Error);
          }
          await new Promise(r => setTimeout(r, 2000));
        }
      });
    return () => {
      stopped = true;
      abort.abort();
    };
  }, [api, id]);

  if (error && !execution) {
    return (
      <WarningPanel
        severity="error"
        title="Could not load the run"
        message={error.message}
      />
    );
  }
  if (!execution) return <Progress />;

  const terminal = isTerminalExecutionState(execution.state);
  const cancel = async () => {
    setBusy(true);
    try {
      setExecution(await api.cancelExecution(execution.id));
    } catch (e) {
      alertApi.post({
        message: `Cancel failed: ${(e as Error).message}`,
        severity: 'error',
      });
    } finally {
      setBusy(false);
    }
  };
  const rerun = async () => {
    setBusy(true);
    try {
      const next = await api.retryExecution(execution.id);
      navigate(`../${next.id}`, { relative: 'path' });
    } catch (e) {
      alertApi.post({
        message: `Re-run refused: ${(e as Error).message}`,
        severity: 'error',
      });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Grid container spacing={3}>
      <Grid item xs={12}>
        <Box display="flex" alignItems="center" style={{ gap: 16 }}>
          {props.backTo && <Link to={props.backTo}>← All runs</Link>}
          <Typography variant="h5">Run {execution.id.slice(0, 8)}</Typography>
          <ExecutionStatusChip state={execution.state} />
          <Box flexGrow={1} />
          {!terminal && canCancel.allowed && (
            <Button
              variant="outlined"
              color="secondary"
              onClick={cancel}
              disabled={busy || Boolean(execution.cancelRequestedAt)}
            >
              {execution.cancelRequestedAt ? 'Cancelling…' : 'Cancel'}
            </Button>
          )}
          {terminal && canRerun.allowed && (
            <Button
              variant="contained"
              color="primary"
              onClick={rerun}
              disabled={busy}
            >
              Re-run
            </Button>
          )}
        </Box>
      </Grid>
      <Grid item xs={12} md={6}>
        <InfoCard title="Details">
          <StructuredMetadataTable
            metadata={{
              agent: execution.agentRef,
              version: execution.agentVersion,
              requestedBy: shortRef(execution.userRef),
              plan: execution.plan,
              mode: execution.mode,
              created: formatTime(execution.createdAt),
              started: formatTime(execution.startedAt),
              finished: formatTime(execution.finishedAt),
              duration: formatDuration(execution.durationMs),
              computeSeconds: execution.computeSeconds ?? '—',
              cost: formatCost(execution.cost),
              exitReason: execution.exitReason ?? '—',
              ...(execution.retryOf ? { retryOf: execution.retryOf } : {}),
              resources: `${execution.resources.cpu} CPU · ${execution.resources.memory} · ${execution.resources.timeoutSeconds} s`,
              tools: execution.tools.map(t => t.name).join(', ') || 'none',
              secrets:
                execution.secrets
                  .map(s => `${s.name} (${s.source})`)
                  .join(', ') || 'none',
            }}
          />
        </InfoCard>
      </Grid>
      <Grid item xs={12} md={6}>
        <InfoCard title="Result">
          {execution.message && (
            <Typography
              color={execution.state === 'succeeded' ? 'textPrimary' : 'error'}
              paragraph
            >
              {execution.message}
            </Typography>
          )}
          {execution.result !== undefined ? (
            <div data-testid="execution-result">
              <CodeSnippet
                language="json"
                text={JSON.stringify(execution.result, null, 2)}
              />
            </div>
          ) : (
            <Typography color="textSecondary">
              {resultNote(terminal, execution.resultTruncated)}
            </Typography>
          )}
          <Typography variant="subtitle2" style={{ marginTop: 16 }}>
            Input
          </Typography>
          <CodeSnippet
            language="json"
            text={JSON.stringify(execution.input, null, 2)}
          />
        </InfoCard>
      </Grid>
      <Grid item xs={12}>
        <InfoCard title="Logs">
          <div
            style={{ height: 360 }}
            data-testid="execution-logs"
            data-lines={lines.length}
            data-text={lines.map(l => l.message).join('\n')}
          >
            <LogViewer text={logText(lines)} />
          </div>
        </InfoCard>
      </Grid>
    </Grid>
  );
}
