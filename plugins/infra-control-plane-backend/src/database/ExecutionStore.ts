import {
  DatabaseService,
  resolvePackagePath,
} from '@backstage/backend-plugin-api';
import {
  ExecutionPlan,
  ExecutionState,
  ExecutionUpdate,
} from '@internal/plugin-agents-common';
import { JsonValue } from '@backstage/types';
import { Knex } from 'knex';

const migrationsDir = resolvePackagePath(
  '@internal/plugin-infra-control-plane-backend',
  'migrations',
);

/** One execution as the infra control plane knows it. @public */
export interface ExecutionRecord {
  executionId: string;
  attempt: number;
  agentRef: string;
  agentVersion: string;
  executor: string;
  cluster?: string;
  jobName?: string;
  state: ExecutionState;
  plan: ExecutionPlan;
  dispatched: boolean;
  cancelRequested: boolean;
  exitReason?: string;
  exitCode?: number;
  message?: string;
  result?: JsonValue;
  logBytes: number;
  logTruncated: boolean;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  computeSeconds?: number;
}

/** One stored log line. @public */
export interface LogLine {
  seq: number;
  ts: string;
  level: string;
  message: string;
}

/** A pending update to deliver. */
export interface PendingUpdate {
  id: number;
  executionId: string;
  update: ExecutionUpdate;
  attempts: number;
}

/** The terminal outcome written by `finish`. */
export interface ExecutionOutcome {
  state: 'succeeded' | 'failed' | 'cancelled' | 'timed_out';
  at: string;
  exitReason?: string;
  exitCode?: number;
  message?: string;
  result?: JsonValue;
  computeSeconds?: number;
}

type Row = Record<string, any>;

function toRecord(row: Row): ExecutionRecord {
  return {
    executionId: row.execution_id,
    attempt: Number(row.attempt),
    agentRef: row.agent_ref,
    agentVersion: row.agent_version,
    executor: row.executor,
    cluster: row.cluster ?? undefined,
    jobName: row.job_name ?? undefined,
    state: row.state,
    plan: JSON.parse(row.plan_json),
    dispatched: Boolean(row.dispatched),
    cancelRequested: Boolean(row.cancel_requested),
    exitReason: row.exit_reason ?? undefined,
    exitCode: row.exit_code ?? undefined,
    message: row.message ?? undefined,
    result:
      row.result_json === null || row.result_json === undefined
        ? undefined
        : JSON.parse(row.result_json),
    logBytes: Number(row.log_bytes),
    logTruncated: Boolean(row.log_truncated),
    createdAt: row.created_at,
    startedAt: row.started_at ?? undefined,
    finishedAt: row.finished_at ?? undefined,
    computeSeconds:
      row.compute_seconds === null || row.compute_seconds === undefined
        ? undefined
        : Number(row.compute_seconds),
  };
}

/**
 * Knex access to executions, their logs and the outbox of updates for the
 * product control plane. Every state change and the update announcing it are
 * written in one transaction, so an update is never lost nor invented.
 *
 * @public
 */
export class ExecutionStore {
  static async create(database: DatabaseService): Promise<ExecutionStore> {
    const client = await database.getClient();
    if (!database.migrations?.skip) {
      await client.migrate.latest({ directory: migrationsDir });
    }
    return new ExecutionStore(client);
  }

  constructor(private readonly db: Knex) {}

  async ping(): Promise<void> {
    await this.db('infra_executions').select('execution_id').limit(1);
  }

  /** Inserts a queued record; returns false when the id already exists. */
  async insert(
    plan: ExecutionPlan,
    executor: string,
    cluster?: string,
    jobName?: string,
  ): Promise<boolean> {
    if (await this.get(plan.executionId)) {
      return false;
    }
    try {
      await this.db('infra_executions').insert({
        execution_id: plan.executionId,
        attempt: plan.attempt,
        agent_ref: plan.agentRef,
        agent_version: plan.agentVersion,
        executor,
        cluster: cluster ?? null,
        job_name: jobName ?? null,
        state: 'queued',
        plan_json: JSON.stringify(plan),
        created_at: new Date().toISOString(),
      });
      return true;
    } catch (error) {
      // A concurrent receipt of the same plan won the primary key.
      if (await this.get(plan.executionId)) {
        return false;
      }
      throw error;
    }
  }

  async get(executionId: string): Promise<ExecutionRecord | undefined> {
    const row = await this.db('infra_executions')
      .where({ execution_id: executionId })
      .first();
    return row ? toRecord(row) : undefined;
  }

  async listUnfinished(executor: string): Promise<ExecutionRecord[]> {
    const rows = await this.db('infra_executions')
      .where({ executor })
      .whereIn('state', ['queued', 'dispatched', 'running'])
      .orderBy('created_at', 'asc');
    return rows.map(toRecord);
  }

  /** The last `limit` finished runs of each given agent, newest first. */
  async recentOutcomes(
    agentRef: string,
    limit: number,
  ): Promise<Array<{ state: ExecutionState; exitReason?: string }>> {
    const rows = await this.db('infra_executions')
      .where({ agent_ref: agentRef })
      .whereNotNull('finished_at')
      .orderBy('finished_at', 'desc')
      .limit(limit)
      .select('state', 'exit_reason');
    return rows.map(r => ({
      state: r.state,
      exitReason: r.exit_reason ?? undefined,
    }));
  }

  async knownAgents(): Promise<string[]> {
    const rows = await this.db('infra_executions').distinct('agent_ref');
    return rows.map(r => r.agent_ref).sort();
  }

  async markDispatched(
    executionId: string,
    fields: { cluster?: string; jobName?: string } = {},
  ): Promise<boolean> {
    return this.transition(executionId, ['queued'], 'dispatched', {
      dispatched: true,
      ...(fields.cluster ? { cluster: fields.cluster } : {}),
      ...(fields.jobName ? { job_name: fields.jobName } : {}),
    });
  }

  async markRunning(executionId: string, at: string): Promise<boolean> {
    return this.transition(executionId, ['queued', 'dispatched'], 'running', {
      dispatched: true,
      started_at: at,
    });
  }

  async requestCancel(executionId: string): Promise<void> {
    await this.db('infra_executions')
      .where({ execution_id: executionId })
      .update({ cancel_requested: true });
  }

  /** Writes a terminal state once; returns false when already terminal. */
  async finish(
    executionId: string,
    outcome: ExecutionOutcome,
  ): Promise<boolean> {
    return this.transition(
      executionId,
      ['queued', 'dispatched', 'running'],
      outcome.state,
      {
        finished_at: outcome.at,
        exit_reason: outcome.exitReason ?? null,
        exit_code: outcome.exitCode ?? null,
        message: outcome.message ?? null,
        result_json:
          outcome.result === undefined ? null : JSON.stringify(outcome.result),
        compute_seconds: outcome.computeSeconds ?? null,
      },
      outcome,
    );
  }

  private async transition(
    executionId: string,
    from: ExecutionState[],
    to: ExecutionState,
    fields: Row,
    outcome?: ExecutionOutcome,
  ): Promise<boolean> {
    return this.db.transaction(async tx => {
      const row = await tx('infra_executions')
        .where({ execution_id: executionId })
        .first();
      if (!row || !from.includes(row.state)) {
        return false;
      }
      const changed = await tx('infra_executions')
        .where({ execution_id: executionId, state: row.state })
        .update({ state: to, ...fields });
      if (!changed) {
        return false;
      }
      const update: ExecutionUpdate = {
        executionId,
        attempt: Number(row.attempt),
        state: to as ExecutionUpdate['state'],
        at: outcome?.at ?? fields.started_at ?? new Date().toISOString(),
        ...(outcome
          ? {
              exitReason: outcome.exitReason,
              exitCode: outcome.exitCode,
              message: outcome.message,
              result: outcome.result,
              computeSeconds: outcome.computeSeconds,
            }
          : {}),
      };
      await tx('infra_pending_updates').insert({
        execution_id: executionId,
        update_json: JSON.stringify(update),
        attempts: 0,
        next_attempt_at: 0,
      });
      return true;
    });
  }

  /** Appends log lines, honouring the byte limit with one truncation marker. */
  async appendLogs(
    executionId: string,
    lines: Array<{ ts: string; level: string; message: string }>,
    maxBytes: number,
  ): Promise<void> {
    if (lines.length === 0) return;
    await this.db.transaction(async tx => {
      const row = await tx('infra_executions')
        .where({ execution_id: executionId })
        .first();
      if (!row) return;
      let bytes = Number(row.log_bytes);
      let seq = Number(row.log_seq);
      let truncated = Boolean(row.log_truncated);
      const toInsert: Row[] = [];
      for (const line of lines) {
        const size = Buffer.byteLength(line.message, 'utf8');
        if (truncated) {
          continue;
        }
        if (bytes + size > maxBytes) {
          truncated = true;
          seq += 1;
          toInsert.push({
            execution_id: executionId,
            seq,
            ts: line.ts,
            level: 'warn',
            message: `[log truncated: the limit of ${maxBytes} bytes per execution was reached; further output is dropped]`,
          });
          continue;
        }
        bytes += size;
        seq += 1;
        toInsert.push({
          execution_id: executionId,
          seq,
          ts: line.ts,
          level: line.level,
          message: line.message,
        });
      }
      if (toInsert.length) {
        await tx.batchInsert('infra_execution_logs', toInsert, 200);
      }
      await tx('infra_executions')
        .where({ execution_id: executionId })
        .update({
          log_bytes: bytes,
          log_seq: seq,
          log_truncated: truncated,
        });
    });
  }

  async readLogs(
    executionId: string,
    after: number,
    limit: number,
  ): Promise<LogLine[]> {
    const rows = await this.db('infra_execution_logs')
      .where({ execution_id: executionId })
      .andWhere('seq', '>', after)
      .orderBy('seq', 'asc')
      .limit(limit);
    return rows.map(r => ({
      seq: Number(r.seq),
      ts: r.ts,
      level: r.level,
      message: r.message,
    }));
  }

  /** Due updates, only the oldest per execution so order is kept. */
  async dueUpdates(now: number, limit: number): Promise<PendingUpdate[]> {
    const heads = this.db('infra_pending_updates')
      .min('id as id')
      .groupBy('execution_id');
    const rows = await this.db('infra_pending_updates')
      .whereIn('id', heads)
      .andWhere('next_attempt_at', '<=', now)
      .orderBy('id', 'asc')
      .limit(limit);
    return rows.map(r => ({
      id: Number(r.id),
      executionId: r.execution_id,
      update: JSON.parse(r.update_json),
      attempts: Number(r.attempts),
    }));
  }

  async pendingUpdateCount(): Promise<number> {
    const [{ count }] = await this.db('infra_pending_updates').count({
      count: '*',
    });
    return Number(count);
  }

  async ackUpdate(id: number): Promise<void> {
    await this.db('infra_pending_updates').where({ id }).delete();
  }

  async retryUpdateLater(
    id: number,
    nextAttemptAt: number,
    error: string,
  ): Promise<void> {
    await this.db('infra_pending_updates')
      .where({ id })
      .update({
        attempts: this.db.raw('attempts + 1'),
        next_attempt_at: nextAttemptAt,
        last_error: error.slice(0, 1000),
      });
  }
}

