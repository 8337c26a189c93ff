import { LoggerService } from '@backstage/backend-plugin-api';
import { ExecutionStore } from '../database/ExecutionStore';
import { ExecutionService } from './ExecutionService';
import { reportDeadline } from './executionView';

/** Options of StuckRunSweeper. */
export interface StuckRunSweeperOptions {
  store: ExecutionStore;
  executions: ExecutionService;
  logger: LoggerService;
  /** Seconds past a run's timeout before it counts as stuck. */
  graceSeconds: number;
}

/**
 * Ends runs stuck in `dispatched` or `running` because the infra plane never
 * reported back: once start (else dispatch) + timeout + grace has passed they
 * go to `timed_out` through the normal transition (audit event, usage record,
 * concurrency slot freed) and a cancel goes to the infra plane.
 */
export class StuckRunSweeper {
  constructor(private readonly o: StuckRunSweeperOptions) {}

  /** One pass; returns how many runs it ended. */
  async sweep(now: Date = new Date()): Promise<number> {
    const { store, executions, logger, graceSeconds } = this.o;
    // No run's timeout is negative: anything newer than now - grace is fine.
    const candidates = await store.listUnfinishedSince(
      new Date(now.getTime() - graceSeconds * 1000).toISOString(),
    );
    let ended = 0;
    for (const record of candidates) {
      const deadline = reportDeadline(record, graceSeconds);
      if (deadline === undefined || deadline > now.getTime()) continue;
      try {
        if (await executions.timeOutUnreported(record.id, graceSeconds, now)) {
          ended += 1;
          logger.warn('Execution timed out without a report from infra', {
            executionId: record.id,
            agentRef: record.agentRef,
            state: record.state,
            timeoutSeconds: record.resources.timeoutSeconds,
            graceSeconds,
          });
        }
      } catch (e) {
        logger.error('Could not end a stuck execution', {
          executionId: record.id,
          error: String(e),
        });
      }
    }
    return ended;
  }
}
