import {
  DatabaseService,
  resolvePackagePath,
} from '@backstage/backend-plugin-api';
import { ConflictError, NotFoundError } from '@backstage/errors';
import {
  AgentPlan,
  EXECUTION_TRANSITIONS,
  ExecutionState,
  ExecutionView,
  SecretReference,
  TERMINAL_EXECUTION_STATES,
} from '@internal/plugin-agents-common';
import { JsonObject } from '@backstage/types';
import { Knex } from 'knex';

const migrationsDir = resolvePackagePath(
  '@internal/plugin-product-control-plane-backend',
  'migrations',
);

/** States that hold a concurrency slot. */
export const ACTIVE_STATES: ExecutionState[] = [
  'queued',
  'dispatched',
  'running',
];

/**
 * One execution as stored: the API's `ExecutionView` plus what the API leaves
 * out (the entitlement, the whole plan, secret refs, the idempotency request
 * hash, the local code folder and the quota day).
 */
export type ExecutionRecord = Omit<ExecutionView, 'plan' | 'secrets'> & {
  entitlementId: string;
  plan: AgentPlan;
  secrets: SecretReference[];
  requestHash?: string;
  codeDir?: string;
  day: string;
};

/** One row of the audit trail. */
export interface ExecutionEvent {
  id: number;
  executionId: string;
  fromState?: ExecutionState;
  toState: ExecutionState;
  actor: string;
  at: string;
  details?: JsonObject;
}

/** What the outbox delivers. */
export type OutboxKind = 'dispatch' | 'cancel' | 'usage';

/** A pending outbox row. */
export interface OutboxItem {
  id: number;
  executionId: string;
  kind: OutboxKind;
  payload: JsonObject;
  attempts: number;
}

/** Filter and page of `listExecutions`. */
export interface ExecutionFilter {
  agentRef?: string;
  userRef?: string;
  state?: ExecutionState[];
  /** Only the caller's runs and runs of agents the caller owns. */
  visibleTo?: { userRef: string; ownershipRefs: string[] };
  limit: number;
  offset: number;
}

/** Fields a transition may set. */
export type ExecutionPatch = Partial<
  Pick<
    ExecutionRecord,
    | 'dispatchedAt'
    | 'startedAt'
    | 'finishedAt'
    | 'durationMs'
    | 'computeSeconds'
    | 'cost'
    | 'exitReason'
    | 'exitCode'
    | 'message'
    | 'result'
    | 'resultTruncated'
    | 'cancelRequestedAt'
    | 'cancelRequestedBy'
  >
>;

function json(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}
function parse<T>(value: string | null | undefined): T | undefined {
  return value === null || value === undefined ? undefined : JSON.parse(value);
}
function opt<T>(value: T | null | undefined): T | undefined {
  return value === null ? undefined : value;
}
function num(value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}

function toRecord(row: any): ExecutionRecord {
  return {
    id: row.id,
    agentRef: row.agent_ref,
    agentVersion: row.agent_version,
    userRef: row.user_ref,
    holderRef: row.holder_ref,
    ownerRef: row.owner_ref,
    entitlementId: row.entitlement_id,
    plan: JSON.parse(row.plan_json),
    state: row.state,
    mode: row.mode,
    attempt: Number(row.attempt),
    retryOf: opt(row.retry_of),
    idempotencyKey: opt(row.idempotency_key),
    requestHash: opt(row.request_hash),
    input: JSON.parse(row.input_json),
    resources: JSON.parse(row.resources_json),
    tools: JSON.parse(row.tools_json),
    secrets: JSON.parse(row.secrets_json),
    image: row.image,
    entrypoint: row.entrypoint,
    codeDir: opt(row.code_dir),
    outputSchema: parse(row.output_schema_json),
    day: row.day,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    dispatchedAt: opt(row.dispatched_at),
    startedAt: opt(row.started_at),
    finishedAt: opt(row.finished_at),
    cancelRequestedAt: opt(row.cancel_requested_at),
    cancelRequestedBy: opt(row.cancel_requested_by),
    durationMs: num(row.duration_ms),
    computeSeconds: num(row.compute_seconds),
    cost: num(row.cost),
    exitReason: opt(row.exit_reason),
    exitCode: num(row.exit_code),
    message: opt(row.message),
    result: parse(row.result_json),
    resultTruncated: Boolean(row.result_truncated),
  };
}

function toRow(r: ExecutionRecord) {
  return {
    id: r.id,
    agent_ref: r.agentRef,
    agent_version: r.agentVersion,
    user_ref: r.userRef,
    holder_ref: r.holderRef,
    owner_ref: r.ownerRef,
    entitlement_id: r.entitlementId,
    plan_name: r.plan.name,
    plan_json: JSON.stringify(r.plan),
    state: r.state,
    mode: r.mode,
    attempt: r.attempt,
    retry_of: r.retryOf ?? null,
    idempotency_key: r.idempotencyKey ?? null,
    request_hash: r.requestHash ?? null,
    input_json: JSON.stringify(r.input),
    resources_json: JSON.stringify(r.resources),
    tools_json: JSON.stringify(r.tools),
    secrets_json: JSON.stringify(r.secrets),
    image: r.image,
    entrypoint: r.entrypoint,
    code_dir: r.codeDir ?? null,
    output_schema_json: json(r.outputSchema),
    day: r.day,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    result_truncated: r.resultTruncated,
  };
}

function patchToRow(patch: ExecutionPatch): Record<string, unknown> {
  const map: Record<keyof ExecutionPatch, string> = {
    dispatchedAt: 'dispatched_at',
    startedAt: 'started_at',
    finishedAt: 'finished_at',
    durationMs: 'duration_ms',
    computeSeconds: 'compute_seconds',
    cost: 'cost',
    exitReason: 'exit_reason',
    exitCode: 'exit_code',
    message: 'message',
    result: 'result_json',
    resultTruncated: 'result_truncated',
    cancelRequestedAt: 'cancel_requested_at',
    cancelRequestedBy: 'cancel_requested_by',
  };
  const row: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const column = map[key as keyof ExecutionPatch];
    row[column] = key === 'result' ? JSON.stringify(value) : value;
  }
  return row;
}

/** Thrown for a transition EXECUTION_TRANSITIONS does not allow (HTTP 409). */
export class IllegalTransitionError extends ConflictError {}

/**
 * Knex access to execution records, their audit trail, the outbox, agent
 * versions and admission locks (user secrets: `UserSecretStore`).
 */
export class ExecutionStore {
  /**
   * `migrationParams` reach the migrations as knex `userParams` (the
   * user-secret key-id migration needs the configured key).
   */
  static async create(
    database: DatabaseService,
    options: { migrationParams?: Record<string, unknown> } = {},
  ): Promise<ExecutionStore> {
    const knex = await database.getClient();
    if (!database.migrations?.skip) {
      await knex
        .withUserParams({ ...knex.userParams, ...options.migrationParams })
        .migrate.latest({ directory: migrationsDir });
    }
    return new ExecutionStore(knex);
  }

  /** Lock rows known to exist (they are never deleted). */
  private readonly lockRows = new Set<string>();

  constructor(readonly knex: Knex) {}

  get isPostgres(): boolean {
    return this.knex.client.config.client === 'pg';
  }

  /**
   * Runs `fn` in one transaction that holds the admission locks of `scopes`
   * (one row each, locked in a fixed order so two admissions never deadlock).
   * PostgreSQL: SELECT ... FOR UPDATE. SQLite: the single connection and
   * write transaction serialize admissions.
   */
  async withAdmissionLock<T>(
    scopes: string[],
    fn: (trx: Knex.Transaction) => Promise<T>,
  ): Promise<T> {
    const sorted = [...new Set(scopes)].sort();
    const missing = sorted.filter(scope => !this.lockRows.has(scope));
    if (missing.length) {
      await this.knex('pcp_admission_locks')
        .insert(missing.map(scope => ({ scope, admitted: 0 })))
        .onConflict('scope')
        .ignore();
      missing.forEach(scope => this.lockRows.add(scope));
    }
    return this.knex.transaction(async trx => {
      if (this.isPostgres) {
        await trx('pcp_admission_locks')
          .whereIn('scope', sorted)
          .orderBy('scope')
          .forUpdate()
          .select('scope');
      } else {
        // Take SQLite's write lock first, so the counts read below cannot
        // be changed by anyone before this transaction commits.
        await trx('pcp_admission_locks')
          .whereIn('scope', sorted)
          .update({ admitted: trx.raw('admitted + 0') });
      }
      const result = await fn(trx);
      return result;
    });
  }

  async countActive(
    trx: Knex.Transaction,
    where: { agentRef?: string; holderRef?: string; userRef?: string },
  ): Promise<number> {
    const query = trx('pcp_executions').whereIn('state', ACTIVE_STATES);
    if (where.agentRef) query.where('agent_ref', where.agentRef);
    if (where.holderRef) query.where('holder_ref', where.holderRef);
    if (where.userRef) query.where('user_ref', where.userRef);
    const [{ count }] = await query.count({ count: '*' });
    return Number(count);
  }

  async countDay(
    trx: Knex.Transaction,
    where: { agentRef: string; holderRef: string; plan: string; day: string },
  ): Promise<number> {
    const [{ count }] = await trx('pcp_executions')
      .where({
        agent_ref: where.agentRef,
        holder_ref: where.holderRef,
        plan_name: where.plan,
        day: where.day,
      })
      .whereNot('state', 'rejected')
      .count({ count: '*' });
    return Number(count);
  }

  async insertExecution(
    trx: Knex.Transaction,
    record: ExecutionRecord,
    actor: string,
    outbox: { kind: OutboxKind; payload: JsonObject },
  ): Promise<void> {
    await trx('pcp_executions').insert(toRow(record));
    await this.insertEvent(trx, {
      executionId: record.id,
      toState: record.state,
      actor,
      at: record.createdAt,
      details: { plan: record.plan.name, version: record.agentVersion },
    });
    await this.insertOutbox(trx, record.id, outbox.kind, outbox.payload);
  }

  async insertEvent(
    trx: Knex.Transaction,
    event: Omit<ExecutionEvent, 'id'>,
  ): Promise<void> {
    await trx('pcp_execution_events').insert({
      execution_id: event.executionId,
      from_state: event.fromState ?? null,
      to_state: event.toState,
      actor: event.actor,
      at: event.at,
      details_json: json(event.details),
    });
  }

  async insertOutbox(
    trx: Knex | Knex.Transaction,
    executionId: string,
    kind: OutboxKind,
    payload: JsonObject,
  ): Promise<void> {
    await trx('pcp_outbox').insert({
      execution_id: executionId,
      kind,
      payload_json: JSON.stringify(payload),
      attempts: 0,
      next_attempt_at: new Date(0).toISOString(),
    });
  }

  async getExecution(
    id: string,
    trx: Knex | Knex.Transaction = this.knex,
  ): Promise<ExecutionRecord | undefined> {
    const row = await trx('pcp_executions').where('id', id).first();
    return row ? toRecord(row) : undefined;
  }

  async findByIdempotencyKey(
    userRef: string,
    key: string,
    trx: Knex | Knex.Transaction = this.knex,
  ): Promise<ExecutionRecord | undefined> {
    const row = await trx('pcp_executions')
      .where({ user_ref: userRef, idempotency_key: key })
      .first();
    return row ? toRecord(row) : undefined;
  }

  async listExecutions(
    filter: ExecutionFilter,
  ): Promise<{ items: ExecutionRecord[]; totalCount: number }> {
    const query = this.knex('pcp_executions');
    if (filter.agentRef) query.where('agent_ref', filter.agentRef);
    if (filter.userRef) query.where('user_ref', filter.userRef);
    if (filter.state?.length) query.whereIn('state', filter.state);
    if (filter.visibleTo) {
      const { userRef, ownershipRefs } = filter.visibleTo;
      query.where(q => {
        q.where('user_ref', userRef);
        if (ownershipRefs.length) q.orWhereIn('owner_ref', ownershipRefs);
      });
    }
    const [{ count }] = await query.clone().count({ count: '*' });
    const rows = await query
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(filter.limit)
      .offset(filter.offset);
    return { items: rows.map(toRecord), totalCount: Number(count) };
  }

  async listEvents(executionId: string): Promise<ExecutionEvent[]> {
    const rows = await this.knex('pcp_execution_events')
      .where('execution_id', executionId)
      .orderBy('id');
    return rows.map(row => ({
      id: Number(row.id),
      executionId: row.execution_id,
      fromState: opt(row.from_state),
      toState: row.to_state,
      actor: row.actor,
      at: row.at,
      details: parse(row.details_json),
    }));
  }

  /**
   * Moves an execution to `to` if EXECUTION_TRANSITIONS allows it, with the
   * audit event and any outbox rows in the same transaction. `same` decides
   * what a repeat of the current state does: `ignore` returns it unchanged.
   */
  async transition(options: {
    id: string;
    to: ExecutionState;
    actor: string;
    patch?: ExecutionPatch;
    details?: JsonObject;
    onRepeat: 'ignore' | 'conflict';
    /**
     * Checked on the locked record: when it returns false nothing changes
     * (`changed: false`), e.g. the run moved on since it was chosen.
     */
    when?: (current: ExecutionRecord) => boolean;
    /** Computes more fields and outbox rows from the locked record. */
    finish?: (
      current: ExecutionRecord,
      patch: ExecutionPatch,
    ) => {
      patch?: ExecutionPatch;
      outbox?: Array<{ kind: OutboxKind; payload: JsonObject }>;
    };
  }): Promise<{ record: ExecutionRecord; changed: boolean }> {
    return this.knex.transaction(async trx => {
      const query = trx('pcp_executions').where('id', options.id);
      if (this.isPostgres) query.forUpdate();
      const row = await query.first();
      if (!row) {
        throw new NotFoundError(`Execution ${options.id} not found`);
      }
      const current = toRecord(row);
      if (current.state === options.to && options.onRepeat === 'ignore') {
        return { record: current, changed: false };
      }
      if (options.when && !options.when(current)) {
        return { record: current, changed: false };
      }
      if (!EXECUTION_TRANSITIONS[current.state].includes(options.to)) {
        throw new IllegalTransitionError(
          `Execution ${options.id} cannot go from ${current.state} to ${options.to}`,
        );
      }
      const now = new Date().toISOString();
      let patch: ExecutionPatch = { ...options.patch };
      const extra = options.finish?.(current, patch);
      patch = { ...patch, ...extra?.patch };
      const updated = await trx('pcp_executions')
        .where({ id: options.id, state: current.state })
        .update({ ...patchToRow(patch), state: options.to, updated_at: now });
      if (updated !== 1) {
        throw new ConflictError(
          `Execution ${options.id} changed concurrently, try again`,
        );
      }
      await this.insertEvent(trx, {
        executionId: options.id,
        fromState: current.state,
        toState: options.to,
        actor: options.actor,
        at: now,
        details: options.details,
      });
      for (const item of extra?.outbox ?? []) {
        await this.insertOutbox(trx, options.id, item.kind, item.payload);
      }
      const record = toRecord(
        await trx('pcp_executions').where('id', options.id).first(),
      );
      return { record, changed: true };
    });
  }

  async setCancelRequested(id: string, by: string, at: string): Promise<void> {
    await this.knex.transaction(async trx => {
      await trx('pcp_executions')
        .where('id', id)
        .update({ cancel_requested_at: at, cancel_requested_by: by });
      await this.insertOutbox(trx, id, 'cancel', { executionId: id });
    });
  }

  /**
   * Dispatched or running executions whose last sign of life (start, else
   * dispatch) is older than `before`: candidates for the stuck-run sweep,
   * which applies each one's own timeout.
   */
  async listUnfinishedSince(before: string): Promise<ExecutionRecord[]> {
    const rows = await this.knex('pcp_executions')
      .whereIn('state', ['dispatched', 'running'])
      .whereRaw('coalesce(started_at, dispatched_at, created_at) < ?', [before])
      .orderBy('created_at');
    return rows.map(toRecord);
  }

  // -- outbox ---------------------------------------------------------------

  /** Leases up to `limit` due rows for `leaseMs`; others skip leased rows. */
  async claimOutbox(limit: number, leaseMs = 30_000): Promise<OutboxItem[]> {
    const now = new Date();
    const nowIso = now.toISOString();
    const candidates = await this.knex('pcp_outbox')
      .whereNull('delivered_at')
      .where('next_attempt_at', '<=', nowIso)
      .where(q =>
        q.whereNull('lease_until').orWhere('lease_until', '<', nowIso),
      )
      .orderBy('id')
      .limit(limit);
    const claimed: OutboxItem[] = [];
    const leaseUntil = new Date(now.getTime() + leaseMs).toISOString();
    for (const row of candidates) {
      const n = await this.knex('pcp_outbox')
        .where('id', row.id)
        .whereNull('delivered_at')
        .where(q =>
          q.whereNull('lease_until').orWhere('lease_until', '<', nowIso),
        )
        .update({ lease_until: leaseUntil });
      if (n === 1) {
        claimed.push({
          id: Number(row.id),
          executionId: row.execution_id,
          kind: row.kind,
          payload: JSON.parse(row.payload_json),
          attempts: Number(row.attempts),
        });
      }
    }
    return claimed;
  }

  async markOutboxDelivered(id: number): Promise<void> {
    await this.knex('pcp_outbox')
      .where('id', id)
      .update({ delivered_at: new Date().toISOString(), lease_until: null });
  }

  async markOutboxFailed(
    id: number,
    error: string,
    nextAttemptAt: Date,
  ): Promise<void> {
    await this.knex('pcp_outbox')
      .where('id', id)
      .update({
        attempts: this.knex.raw('attempts + 1'),
        last_error: error.slice(0, 2000),
        next_attempt_at: nextAttemptAt.toISOString(),
        lease_until: null,
      });
  }

  /** Drops undelivered rows of a kind (e.g. a dispatch of a cancelled run). */
  async discardOutbox(executionId: string, kind: OutboxKind): Promise<void> {
    await this.knex('pcp_outbox')
      .where({ execution_id: executionId, kind })
      .whereNull('delivered_at')
      .update({
        delivered_at: new Date().toISOString(),
        last_error: 'discarded',
      });
  }

  async pendingOutbox(
    executionId?: string,
  ): Promise<
    Array<{ kind: OutboxKind; attempts: number; lastError?: string }>
  > {
    const query = this.knex('pcp_outbox').whereNull('delivered_at');
    if (executionId) query.where('execution_id', executionId);
    const rows = await query.orderBy('id');
    return rows.map(r => ({
      kind: r.kind,
      attempts: Number(r.attempts),
      lastError: opt(r.last_error),
    }));
  }

  // -- agent versions -----------------------------------------------------------

  async recordVersion(
    agentRef: string,
    version: string,
    spec: JsonObject,
  ): Promise<void> {
    const now = new Date().toISOString();
    await this.knex('pcp_agent_versions')
      .insert({
        agent_ref: agentRef,
        version,
        spec_json: JSON.stringify(spec),
        first_seen_at: now,
        last_seen_at: now,
      })
      .onConflict(['agent_ref', 'version'])
      .merge(['spec_json', 'last_seen_at']);
  }

  async listVersions(
    agentRef: string,
  ): Promise<Array<{ version: string; spec: JsonObject }>> {
    const rows = await this.knex('pcp_agent_versions').where(
      'agent_ref',
      agentRef,
    );
    return rows.map(r => ({
      version: r.version,
      spec: JSON.parse(r.spec_json),
    }));
  }

  // -- retention --------------------------------------------------------------

  /** Deletes finished executions (and their trail and outbox) older than `before`. */
  async deleteFinishedBefore(before: string): Promise<number> {
    return this.knex.transaction(async trx => {
      const ids = (
        await trx('pcp_executions')
          .whereIn('state', TERMINAL_EXECUTION_STATES as ExecutionState[])
          .where('created_at', '<', before)
          .select('id')
      ).map(r => r.id);
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        await trx('pcp_outbox').whereIn('execution_id', chunk).delete();
        await trx('pcp_execution_events')
          .whereIn('execution_id', chunk)
          .delete();
        await trx('pcp_executions').whereIn('id', chunk).delete();
      }
      return ids.length;
    });
  }
}
