import {
  AgentPlan,
  ExecutionView,
  TerminalExecutionState,
} from '@internal/plugin-agents-common';
import { ExecutionRecord } from '../database/ExecutionStore';

/**
 * What `toView` builds from a record: secret refs and internals left out.
 * `toView.test.ts` proves it has exactly the keys of the API's ExecutionView.
 */
export type RecordView = Omit<
  ExecutionRecord,
  'secrets' | 'requestHash' | 'entitlementId' | 'plan' | 'day' | 'codeDir'
> & {
  plan: string;
  secrets: Array<{ name: string; source: 'platform' | 'user' }>;
};

/** Who ends runs the infra plane stopped reporting on (audit actor). */
export const STUCK_RUN_ACTOR = 'stuck-run-sweeper';

/**
 * When a dispatched or running run must have been reported finished: its
 * start (else dispatch) + its timeout + `graceSeconds`, in ms since the epoch.
 * Undefined for any other state.
 */
export function reportDeadline(
  record: Pick<
    ExecutionRecord,
    'state' | 'startedAt' | 'dispatchedAt' | 'createdAt' | 'resources'
  >,
  graceSeconds: number,
): number | undefined {
  if (record.state !== 'dispatched' && record.state !== 'running') {
    return undefined;
  }
  const since = record.startedAt ?? record.dispatchedAt ?? record.createdAt;
  return (
    Date.parse(since) + (record.resources.timeoutSeconds + graceSeconds) * 1000
  );
}

/** Converts a record to its API shape (declared in agents-common). */
export function toView(record: ExecutionRecord): ExecutionView {
  const {
    secrets,
    requestHash: _h,
    entitlementId: _e,
    plan,
    day: _d,
    codeDir: _c,
    ...rest
  } = record;
  const view: RecordView = {
    ...rest,
    plan: plan.name,
    secrets: secrets.map(s => ({ name: s.name, source: s.source })),
  };
  return view;
}

/** The cost of a finished run under its plan. */
export function computeCost(
  plan: AgentPlan,
  state: TerminalExecutionState,
  ran: boolean,
  computeSeconds: number,
): number {
  if (state === 'rejected' || !plan.price) return 0;
  switch (plan.pricing) {
    case 'per-run':
      return ran ? plan.price : 0;
    case 'metered':
      return Math.round(plan.price * computeSeconds * 1e6) / 1e6;
    default:
      return 0;
  }
}
