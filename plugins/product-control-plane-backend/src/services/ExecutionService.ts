import {
  AuditorService,
  AuthService,
  BackstageCredentials,
  LoggerService,
  PermissionsService,
  UserInfoService,
} from '@backstage/backend-plugin-api';
import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import {
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
} from '@backstage/errors';
import {
  AuthorizeResult,
  BasicPermission,
  ResourcePermission,
} from '@backstage/plugin-permission-common';
import { JsonObject } from '@backstage/types';
import {
  agentExecutionCancelPermission,
  agentExecutionCreatePermission,
  agentExecutionReadPermission,
  EntitlementCheckRequest,
  EntitlementCheckResponse,
  ExecutionPlan,
  ExecutionState,
  ExecutionUpdate,
  isTerminalExecutionState,
  MARKETPLACE_PLUGIN_ID,
  ResourceEnvelope,
  UsageRecord,
} from '@internal/plugin-agents-common';
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  ExecutionEvent,
  ExecutionFilter,
  ExecutionPatch,
  ExecutionRecord,
  ExecutionStore,
} from '../database/ExecutionStore';
import { AgentResolver } from './AgentResolver';
import { EntitlementError } from './errors';
import { computeCost, reportDeadline, STUCK_RUN_ACTOR } from './executionView';
import { LayerClient } from './LayerClient';
import { RunCatalogAccess } from './RunCatalogAccess';
import { PolicyService } from './PolicyService';
import { requestHash } from './requestHash';
import { UserSecretService } from './UserSecretService';

/** A request to run an agent, from any entry point. */
export interface CreateExecutionRequest {
  agentRef: string;
  input: JsonObject;
  version?: string;
  plan?: string;
  mode: 'sync' | 'async';
  resources?: Partial<ResourceEnvelope>;
  idempotencyKey?: string;
  retryOf?: string;
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return (
    err?.code === '23505' ||
    err?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    /UNIQUE constraint failed/.test(err?.message ?? '')
  );
}

/** Options of ExecutionService. */
export interface ExecutionServiceOptions {
  store: ExecutionStore;
  policy: PolicyService;
  agents: AgentResolver;
  layers: LayerClient;
  auth: AuthService;
  userInfo: UserInfoService;
  permissions: PermissionsService;
  auditor?: AuditorService;
  logger: LoggerService;
  userSecrets: UserSecretService;
  /** The requester-bound catalog access of runs granted the `catalog` tool. */
  catalogAccess?: RunCatalogAccess;
  platformSecrets: Record<string, string>;
  maxResultBytes: number;
  syncMaxWaitSeconds: number;
  /** Called when there is something new in the outbox. */
  onOutbox?: () => void;
}

/**
 * The executions API behind every entry point (REST, the Runs tab, actions):
 * validation, policy, the record and its state machine.
 */
export class ExecutionService {
  /** Emits `change` with the record after every transition. */
  readonly events = new EventEmitter();

  constructor(private readonly o: ExecutionServiceOptions) {
    this.events.setMaxListeners(0);
  }

  private userRefOf(credentials: BackstageCredentials): string {
    if (!this.o.auth.isPrincipal(credentials, 'user')) {
      throw new NotAllowedError('Runs can only be requested by users');
    }
    return credentials.principal.userEntityRef;
  }

  private async authorize(
    credentials: BackstageCredentials,
    permission: BasicPermission | ResourcePermission,
    resourceRef?: string,
  ) {
    const [decision] = await this.o.permissions.authorize(
      [
        resourceRef
          ? { permission: permission as ResourcePermission, resourceRef }
          : { permission: permission as BasicPermission },
      ],
      { credentials },
    );
    if (decision.result !== AuthorizeResult.ALLOW) {
      throw new NotAllowedError(
        `Not allowed: ${permission.name}${
          resourceRef ? ` on ${resourceRef}` : ''
        }`,
      );
    }
  }

  private async ownershipRefs(credentials: BackstageCredentials) {
    const info = await this.o.userInfo.getUserInfo(credentials);
    return info.ownershipEntityRefs;
  }

  /** Validates, applies policy and records a new execution (or returns the idempotent one). */
  async create(
    req: CreateExecutionRequest,
    credentials: BackstageCredentials,
  ): Promise<{ record: ExecutionRecord; created: boolean }> {
    const userRef = this.userRefOf(credentials);
    let agentRef: string;
    try {
      agentRef = stringifyEntityRef(
        parseEntityRef(req.agentRef, {
          defaultKind: 'agent',
          defaultNamespace: 'default',
        }),
      );
    } catch {
      throw new InputError(`agentRef "${req.agentRef}" is not an entity ref`);
    }
    const normalized = { ...req, agentRef };
    const hash = requestHash(normalized);
    await this.authorize(credentials, agentExecutionCreatePermission, agentRef);

    if (req.idempotencyKey) {
      const existing = await this.o.store.findByIdempotencyKey(
        userRef,
        req.idempotencyKey,
      );
      if (existing) return this.sameRequest(existing, hash);
    }

    const resolved = await this.o.agents.resolve(
      agentRef,
      req.version,
      credentials,
    );
    const ownershipRefs = await this.ownershipRefs(credentials);
    const check: EntitlementCheckRequest = {
      agentRef,
      userRef,
      ownershipRefs,
      ...(req.plan ? { plan: req.plan } : {}),
    };
    const entitlement = await this.o.layers.postJson<EntitlementCheckResponse>(
      MARKETPLACE_PLUGIN_ID,
      '/entitlements/check',
      check,
    );
    if (!entitlement.allowed) {
      throw new EntitlementError(entitlement.code, entitlement.reason);
    }
    this.o.agents.validateInput(resolved, req.input);
    const userSecrets = resolved.spec.secrets?.length
      ? await this.o.userSecrets.listUsable(
          userRef,
          agentRef,
          resolved.spec.secrets,
        )
      : [];
    const decision = this.o.policy.decide({
      agentRef,
      spec: resolved.spec,
      plan: entitlement.plan,
      mode: req.mode,
      requested: req.resources,
      userSecrets,
    });

    const now = new Date().toISOString();
    const owner = resolved.entity.spec.owner;
    const record: ExecutionRecord = {
      id: crypto.randomUUID(),
      agentRef,
      agentVersion: resolved.version,
      userRef,
      holderRef: entitlement.holderRef,
      ownerRef: stringifyEntityRef(
        parseEntityRef(owner, {
          defaultKind: 'group',
          defaultNamespace: resolved.entity.metadata.namespace ?? 'default',
        }),
      ),
      entitlementId: entitlement.entitlementId,
      plan: entitlement.plan,
      state: 'queued',
      mode: req.mode,
      attempt: 1,
      retryOf: req.retryOf,
      idempotencyKey: req.idempotencyKey,
      requestHash: hash,
      input: req.input,
      resources: decision.resources,
      tools: decision.tools,
      secrets: decision.secrets,
      image: resolved.spec.runtime.image,
      entrypoint: resolved.spec.runtime.entrypoint,
      codeDir: resolved.codeDir,
      outputSchema: resolved.spec.output,
      day: now.slice(0, 10),
      createdAt: now,
      updatedAt: now,
      resultTruncated: false,
    };
    const plan: ExecutionPlan = {
      executionId: record.id,
      attempt: record.attempt,
      agentRef,
      agentVersion: record.agentVersion,
      image: record.image,
      entrypoint: record.entrypoint,
      ...(record.codeDir ? { codeDir: record.codeDir } : {}),
      input: record.input,
      ...(record.outputSchema ? { outputSchema: record.outputSchema } : {}),
      tools: record.tools,
      secrets: record.secrets,
      resources: record.resources,
      requestedBy: userRef,
      plan: record.plan.name,
    };

    try {
      const admitted = await this.o.store.withAdmissionLock(
        this.o.policy.lockScopes({ agentRef, userRef }),
        async trx => {
          if (req.idempotencyKey) {
            const existing = await this.o.store.findByIdempotencyKey(
              userRef,
              req.idempotencyKey,
              trx,
            );
            if (existing) return existing;
          }
          await this.o.policy.admit(trx, this.o.store, {
            agentRef,
            userRef,
            holderRef: entitlement.holderRef,
            plan: entitlement.plan,
            day: record.day,
          });
          await this.o.store.insertExecution(trx, record, userRef, {
            kind: 'dispatch',
            payload: plan as unknown as JsonObject,
          });
          return undefined;
        },
      );
      if (admitted) return this.sameRequest(admitted, hash);
    } catch (e) {
      if (req.idempotencyKey && isUniqueViolation(e)) {
        const existing = await this.o.store.findByIdempotencyKey(
          userRef,
          req.idempotencyKey,
        );
        if (existing) return this.sameRequest(existing, hash);
      }
      throw e;
    }

    this.o.logger.info('Execution queued', {
      executionId: record.id,
      agentRef,
      userRef,
      plan: record.plan.name,
    });
    await this.audit(record, undefined, 'queued', userRef);
    if (record.tools.some(t => t.name === 'catalog')) {
      // Without it the run's catalog requests are refused; the run still goes.
      await this.o.catalogAccess?.grant(record, credentials).catch(error =>
        this.o.logger.warn('The catalog access of a run could not be kept', {
          executionId: record.id,
          error: String(error?.name ?? error),
        }),
      );
    }
    this.events.emit('change', record);
    this.o.onOutbox?.();
    return { record, created: true };
  }

  private sameRequest(existing: ExecutionRecord, hash: string) {
    if (existing.requestHash !== hash) {
      throw new ConflictError(
        `Idempotency key ${existing.idempotencyKey} was already used for a different request (execution ${existing.id})`,
      );
    }
    return { record: existing, created: false };
  }

  /** Waits until the execution is terminal or `ms` passed. */
  async waitForTerminal(id: string, ms?: number): Promise<ExecutionRecord> {
    const deadline = Date.now() + (ms ?? this.o.syncMaxWaitSeconds * 1000);
    for (;;) {
      const record = await this.o.store.getExecution(id);
      if (!record) throw new NotFoundError(`Execution ${id} not found`);
      const left = deadline - Date.now();
      if (isTerminalExecutionState(record.state) || left <= 0) return record;
      // Wake on a local change, or re-read after a second (another instance
      // may have applied the update).
      let onChange: ((r: ExecutionRecord) => void) | undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>(resolve => {
        onChange = r => {
          if (r.id === id) resolve();
        };
        timer = setTimeout(resolve, Math.min(1000, left));
        this.events.on('change', onChange);
      });
      clearTimeout(timer);
      this.events.off('change', onChange!);
    }
  }

  /** The record without access checks (internal use only). */
  async peek(id: string): Promise<ExecutionRecord | undefined> {
    return this.o.store.getExecution(id);
  }

  /** The record, if the caller may read it. */
  async get(
    id: string,
    credentials: BackstageCredentials,
  ): Promise<ExecutionRecord> {
    const record = await this.o.store.getExecution(id);
    if (!record) throw new NotFoundError(`Execution ${id} not found`);
    await this.checkAccess(record, credentials, agentExecutionReadPermission);
    return record;
  }

  private async checkAccess(
    record: ExecutionRecord,
    credentials: BackstageCredentials,
    permission: BasicPermission,
  ) {
    if (this.o.auth.isPrincipal(credentials, 'service')) return;
    await this.authorize(credentials, permission);
    const userRef = this.userRefOf(credentials);
    if (record.userRef === userRef) return;
    const refs = await this.ownershipRefs(credentials);
    if (refs.includes(record.ownerRef)) return;
    // Not yours and not your agent: it does not exist for you.
    throw new NotFoundError(`Execution ${record.id} not found`);
  }

  async list(
    filter: Omit<ExecutionFilter, 'visibleTo'>,
    credentials: BackstageCredentials,
  ) {
    await this.authorize(credentials, agentExecutionReadPermission);
    const userRef = this.userRefOf(credentials);
    const ownershipRefs = await this.ownershipRefs(credentials);
    return this.o.store.listExecutions({
      ...filter,
      visibleTo: { userRef, ownershipRefs },
    });
  }

  async auditTrail(
    id: string,
    credentials: BackstageCredentials,
  ): Promise<ExecutionEvent[]> {
    await this.get(id, credentials);
    return this.o.store.listEvents(id);
  }

  /** Cancels a queued run at once; asks the infra plane to stop a dispatched or running one. */
  async cancel(
    id: string,
    credentials: BackstageCredentials,
  ): Promise<ExecutionRecord> {
    const record = await this.o.store.getExecution(id);
    if (!record) throw new NotFoundError(`Execution ${id} not found`);
    await this.checkAccess(record, credentials, agentExecutionCancelPermission);
    const actor = this.o.auth.isPrincipal(credentials, 'user')
      ? credentials.principal.userEntityRef
      : 'service';
    if (isTerminalExecutionState(record.state)) {
      throw new ConflictError(
        `Execution ${id} is already ${record.state} and cannot be cancelled`,
      );
    }
    if (record.state === 'queued') {
      const now = new Date().toISOString();
      try {
        const { record: updated } = await this.transition(
          id,
          'cancelled',
          actor,
          {
            finishedAt: now,
            exitReason: 'cancelled-by-user',
            cancelRequestedAt: now,
            cancelRequestedBy: actor,
          },
          // The dispatch may be in flight: tell the infra plane too.
          [{ kind: 'cancel', payload: { executionId: id } }],
        );
        await this.o.store.discardOutbox(id, 'dispatch');
        return updated;
      } catch (e) {
        // Dispatched meanwhile: fall through to asking the infra plane.
        if (!(e instanceof ConflictError)) throw e;
      }
    }
    await this.o.store.setCancelRequested(id, actor, new Date().toISOString());
    this.o.onOutbox?.();
    this.o.logger.info('Execution cancel requested', { executionId: id });
    return (await this.o.store.getExecution(id))!;
  }

  /** Starts a new execution with the same agent version, input and plan. */
  async retry(
    id: string,
    credentials: BackstageCredentials,
    options: { idempotencyKey?: string; mode?: 'sync' | 'async' } = {},
  ) {
    const original = await this.get(id, credentials);
    if (!isTerminalExecutionState(original.state)) {
      throw new ConflictError(
        `Execution ${id} is still ${original.state}; only finished runs can be retried`,
      );
    }
    return this.create(
      {
        agentRef: original.agentRef,
        input: original.input,
        version: original.agentVersion,
        plan: original.plan.name,
        mode: options.mode ?? 'async',
        idempotencyKey: options.idempotencyKey,
        retryOf: original.id,
      },
      credentials,
    );
  }

  /** Applies an update from the infra control plane (repeats are ignored). */
  async applyUpdate(
    id: string,
    update: ExecutionUpdate,
  ): Promise<{ record: ExecutionRecord; changed: boolean }> {
    if (update.executionId !== id) {
      throw new InputError(
        `executionId ${update.executionId} does not match the URL (${id})`,
      );
    }
    const current = await this.o.store.getExecution(id);
    if (!current) throw new NotFoundError(`Execution ${id} not found`);
    if (update.attempt !== current.attempt) {
      throw new ConflictError(
        `Execution ${id} is at attempt ${current.attempt}, not ${update.attempt}`,
      );
    }
    const patch: ExecutionPatch = {};
    if (update.state === 'dispatched') patch.dispatchedAt = update.at;
    if (update.state === 'running') patch.startedAt = update.at;
    if (isTerminalExecutionState(update.state)) {
      patch.finishedAt = update.at;
      patch.exitReason = update.exitReason;
      patch.exitCode = update.exitCode;
      patch.message = update.message;
      if (update.result !== undefined) {
        const bytes = Buffer.byteLength(JSON.stringify(update.result));
        if (bytes > this.o.maxResultBytes) {
          patch.resultTruncated = true;
          patch.message = `${
            update.message ? `${update.message}; ` : ''
          }result of ${bytes} bytes exceeds the ${
            this.o.maxResultBytes
          } byte limit and was not kept`;
        } else {
          patch.result = update.result;
        }
      }
    }
    return this.transition(id, update.state, 'infra-control-plane', patch, [], {
      computeSeconds: update.computeSeconds,
    });
  }

  private async transition(
    id: string,
    to: ExecutionState,
    actor: string,
    patch: ExecutionPatch,
    outbox: Array<{
      kind: 'cancel' | 'dispatch' | 'usage';
      payload: JsonObject;
    }> = [],
    options: {
      /** As reported; else started → finished. */
      computeSeconds?: number;
      /** Compute-seconds at most the run's timeout. */
      capAtTimeout?: boolean;
      /** Applies the transition only if this holds for the locked record. */
      when?: (current: ExecutionRecord) => boolean;
    } = {},
  ) {
    let from: ExecutionState | undefined;
    const result = await this.o.store.transition({
      id,
      to,
      actor,
      patch,
      onRepeat: 'ignore',
      when: options.when,
      details: patch.exitReason ? { exitReason: patch.exitReason } : undefined,
      finish: (current, p) => {
        from = current.state;
        if (!isTerminalExecutionState(to)) return { outbox };
        const finishedAt = p.finishedAt ?? new Date().toISOString();
        const startedAt = p.startedAt ?? current.startedAt;
        const since = startedAt ?? current.dispatchedAt ?? current.createdAt;
        const durationMs = Math.max(
          0,
          Date.parse(finishedAt) - Date.parse(since),
        );
        let seconds =
          options.computeSeconds ??
          (startedAt ? Math.round(durationMs) / 1000 : 0);
        if (options.capAtTimeout) {
          seconds = Math.min(seconds, current.resources.timeoutSeconds);
        }
        const cost = computeCost(current.plan, to, Boolean(startedAt), seconds);
        const usage: UsageRecord = {
          executionId: current.id,
          agentRef: current.agentRef,
          userRef: current.userRef,
          holderRef: current.holderRef,
          plan: current.plan.name,
          state: to,
          ...(startedAt ? { startedAt } : {}),
          finishedAt,
          computeSeconds: seconds,
          cost,
        };
        return {
          patch: { finishedAt, durationMs, computeSeconds: seconds, cost },
          outbox: [
            ...outbox,
            { kind: 'usage', payload: usage as unknown as JsonObject },
          ],
        };
      },
    });
    if (result.changed) {
      if (isTerminalExecutionState(to)) {
        await this.o.catalogAccess?.revoke(id);
      }
      await this.audit(result.record, from, to, actor);
      this.events.emit('change', result.record);
      this.o.logger.info('Execution state changed', {
        executionId: id,
        state: to,
      });
      this.o.onOutbox?.();
    }
    return result;
  }

  /** Marks a queued run dispatched after the infra plane accepted its plan. */
  async markDispatched(id: string) {
    try {
      await this.transition(id, 'dispatched', 'dispatcher', {
        dispatchedAt: new Date().toISOString(),
      });
    } catch (e) {
      // The infra plane may already have reported running/finished.
      if (!(e instanceof ConflictError)) throw e;
    }
  }

  /**
   * Ends a dispatched or running run the infra plane has not reported on
   * within its timeout plus `graceSeconds` (`timed_out`, exit reason
   * `no-report-from-infra`), and asks the infra plane to cancel it. Returns
   * false when the run has moved on meanwhile (re-checked under the lock).
   */
  async timeOutUnreported(
    id: string,
    graceSeconds: number,
    now: Date = new Date(),
  ): Promise<boolean> {
    try {
      const { changed } = await this.transition(
        id,
        'timed_out',
        STUCK_RUN_ACTOR,
        {
          finishedAt: now.toISOString(),
          exitReason: 'no-report-from-infra',
          message: `No report from the infra control plane within the run's timeout plus ${graceSeconds} s grace`,
        },
        [{ kind: 'cancel', payload: { executionId: id } }],
        {
          capAtTimeout: true,
          when: current => {
            const deadline = reportDeadline(current, graceSeconds);
            return deadline !== undefined && deadline <= now.getTime();
          },
        },
      );
      return changed;
    } catch (e) {
      if (e instanceof ConflictError) return false;
      throw e;
    }
  }

  /** Marks a queued run rejected when the infra plane refused its plan. */
  async markRejected(id: string, message: string) {
    try {
      await this.transition(id, 'rejected', 'dispatcher', {
        exitReason: 'infra-rejected',
        message,
      });
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
    }
  }

  private async audit(
    record: ExecutionRecord,
    from: ExecutionState | undefined,
    to: ExecutionState,
    actor: string,
  ) {
    if (!this.o.auditor) return;
    const event = await this.o.auditor.createEvent({
      eventId: 'execution-transition',
      severityLevel: to === 'queued' ? 'medium' : 'low',
      meta: {
        executionId: record.id,
        agentRef: record.agentRef,
        ...(from ? { from } : {}),
        to,
        actor,
      },
    });
    await event.success();
  }

  // -- secrets ---------------------------------------------------------------

  async putUserSecret(
    credentials: BackstageCredentials,
    agentRef: string,
    name: string,
    value: string,
  ) {
    const userRef = this.userRefOf(credentials);
    await this.o.userSecrets.put({ userRef, agentRef, name }, value);
    this.o.logger.info('User secret stored', { agentRef, name, userRef });
  }

  async deleteUserSecret(
    credentials: BackstageCredentials,
    agentRef: string,
    name: string,
  ) {
    const userRef = this.userRefOf(credentials);
    if (!(await this.o.userSecrets.delete({ userRef, agentRef, name }))) {
      throw new NotFoundError(`No secret ${name} stored for ${agentRef}`);
    }
  }

  /**
   * The caller's own secrets for an agent, and the platform secrets granted
   * to that agent (none when the caller cannot see it).
   */
  async listSecretNames(credentials: BackstageCredentials, agentRef: string) {
    const userRef = this.userRefOf(credentials);
    const own = await this.o.userSecrets.list(userRef, agentRef);
    const entity = await this.o.agents
      .load(agentRef, credentials)
      .catch(() => undefined);
    return {
      user: own.map(s => ({ name: s.name, updatedAt: s.updatedAt })),
      platform: entity
        ? this.o.policy.platformSecretsFor(agentRef, entity.spec)
        : [],
    };
  }

  /** The run's requester-bound catalog token, while the run is unfinished. */
  async catalogToken(id: string) {
    const record = await this.o.store.getExecution(id);
    if (!record || isTerminalExecutionState(record.state)) {
      throw new NotFoundError(`Execution ${id} has no catalog access`);
    }
    const access = await this.o.catalogAccess?.tokenFor(record);
    if (!access) {
      throw new NotFoundError(`Execution ${id} has no catalog access`);
    }
    return access;
  }

  /**
   * The values of a non-finished run's granted secrets, for the infra plane
   * only (checked by the router).
   */
  async resolveSecrets(id: string) {
    const record = await this.o.store.getExecution(id);
    if (!record) throw new NotFoundError(`Execution ${id} not found`);
    if (isTerminalExecutionState(record.state)) {
      throw new ConflictError(
        `Execution ${id} is ${record.state}; its secrets are no longer available`,
      );
    }
    const secrets: Array<{ name: string; value: string }> = [];
    for (const s of record.secrets) {
      if (s.source === 'platform') {
        const value = this.o.platformSecrets[s.name];
        if (value !== undefined) secrets.push({ name: s.name, value });
      } else {
        const own = await this.o.userSecrets.reveal(
          s.ref.replace(/^user:/, ''),
        );
        if (own) secrets.push({ name: s.name, value: own.value });
      }
    }
    return secrets;
  }
}
