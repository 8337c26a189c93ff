import Chip from '@material-ui/core/Chip';
import { makeStyles } from '@material-ui/core/styles';
import { ExecutionState } from '@internal/plugin-agents-common';

const useStyles = makeStyles(theme => ({
  queued: {
    backgroundColor: theme.palette.grey[300],
    color: theme.palette.grey[900],
  },
  dispatched: {
    backgroundColor: theme.palette.info.light,
    color: theme.palette.info.contrastText,
  },
  running: {
    backgroundColor: theme.palette.info.main,
    color: theme.palette.info.contrastText,
  },
  succeeded: {
    backgroundColor: theme.palette.success.main,
    color: theme.palette.success.contrastText,
  },
  failed: {
    backgroundColor: theme.palette.error.main,
    color: theme.palette.error.contrastText,
  },
  timed_out: {
    backgroundColor: theme.palette.warning.dark,
    color: theme.palette.warning.contrastText,
  },
  cancelled: {
    backgroundColor: theme.palette.grey[600],
    color: theme.palette.common.white,
  },
  rejected: {
    backgroundColor: theme.palette.error.dark,
    color: theme.palette.error.contrastText,
  },
}));

const LABELS: Record<ExecutionState, string> = {
  queued: 'queued',
  dispatched: 'dispatched',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  timed_out: 'timed out',
  cancelled: 'cancelled',
  rejected: 'rejected',
};

/** A coloured chip with the state of an execution. @public */
export function ExecutionStatusChip(props: { state: ExecutionState }) {
  const classes = useStyles();
  return (
    <Chip
      size="small"
      label={LABELS[props.state] ?? props.state}
      className={classes[props.state]}
      data-testid="execution-state"
      data-state={props.state}
    />
  );
}
