import { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { resolvePackagePath } from '@backstage/backend-plugin-api';
import { ConflictError } from '@backstage/errors';
import {
  AgentEntity,
  AgentPricing,
  AgentVisibility,
  UsageRecord,
} from '@internal/plugin-agents-common';
import {
  Availability,
  AvailabilityContext,
  EntitlementRecord,
  EntitlementStatus,
  ListingRecord,
  ListingSearchQuery,
  Viewer,
} from './types';

const migrationsDir = resolvePackagePath(
  '@internal/plugin-marketplace-backend',
  'migrations',
);

/** Runs the marketplace's knex migrations. */
export async function applyMigrations(knex: Knex): Promise<void> {
  await knex.migrate.latest({
    directory: migrationsDir,
    tableName: 'marketplace_knex_migrations',
  });
}

/** A listing row as stored (the index, without stats). */
export interface ListingRow {
  agent_ref: string;
  namespace: string;
  name: string;
  title: string;
  description: string;
  owner_ref: string;
  tags: string;
  pricing_models: string;
  allowed_groups: string;
  catalog_visibility: string;
  version: string;
  versions: string;
  lifecycle: string;
  search_text: string;
  entity: string;
  consecutive_failures: number;
  first_seen_at: Date;
  synced_at: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** The visibility in force: the owner's override, else the catalog's. */
const EFFECTIVE = 'coalesce(o.visibility, l.catalog_visibility)';
const delimited = (values: string[]) =>
  values.length ? `,${values.join(',')},` : ',';
const undelimit = (value: string) => value.split(',').filter(Boolean);
const toIso = (value: unknown): string =>
  new Date(value as string | number | Date).toISOString();

/** Normalizes an owner / group reference to a lower-case full ref. */
export function normalizeRef(ref: string, defaultKind = 'group'): string {
  const lower = ref.trim().toLocaleLowerCase('en-US');
  const [kindPart, rest] = lower.includes(':')
    ? [lower.slice(0, lower.indexOf(':')), lower.slice(lower.indexOf(':') + 1)]
    : [defaultKind, lower];
  const [namespace, name] = rest.includes('/')
    ? rest.split('/', 2)
    : ['default', rest];
  return `${kindPart}:${namespace}/${name}`;
}

/** Turns an Agent entity into its listing row. */
export function listingRowFromEntity(
  entity: AgentEntity,
  now: Date,
): Omit<ListingRow, 'versions' | 'first_seen_at' | 'consecutive_failures'> {
  const namespace = (entity.metadata.namespace ?? 'default').toLocaleLowerCase('en-US');
  const name = entity.metadata.name.toLocaleLowerCase('en-US');
  const marketplace = entity.spec.marketplace;
  const tags = (entity.metadata.tags ?? []).map(t => t.toLocaleLowerCase('en-US'));
  const title = entity.metadata.title ?? entity.metadata.name;
  const description = entity.metadata.description ?? '';
  return {
    agent_ref: `agent:${namespace}/${name}`,
    namespace,
    name,
    title,
    description,
    owner_ref: normalizeRef(entity.spec.owner),
    tags: delimited(tags),
    pricing_models: delimited([
      ...new Set((marketplace?.plans ?? []).map(p => p.pricing)),
    ]),
    allowed_groups: delimited(
      (marketplace?.allowedGroups ?? []).map(g => normalizeRef(g)),
    ),
    // An Agent without a marketplace section is not listed for everyone.
    catalog_visibility: marketplace?.visibility ?? 'private',
    version: entity.spec.version,
    lifecycle: entity.spec.lifecycle ?? '',
    search_text: [name, title, description, ...tags]
      .join(' ')
      .toLocaleLowerCase('en-US'),
    entity: JSON.stringify(entity),
    synced_at: now,
  };
}

/** Knex access to the marketplace tables. */
export class MarketplaceStore {
  constructor(private readonly db: Knex) {}

  get knex(): Knex {
    return this.db;
  }

  // -------------------------------------------------------------------------
  // Listings
  // -------------------------------------------------------------------------

  /**
   * Inserts or updates listings from catalog entities. A new version resets
   * the failure streak (a fix may have shipped). When `complete` is set, the
   * listings not in `entities` are removed (the catalog no longer has them).
   */
  async syncListings(
    entities: AgentEntity[],
    options: { complete: boolean; now?: Date },
  ): Promise<{ upserted: number; removed: number }> {
    const now = options.now ?? new Date();
    const rows = entities.map(e => listingRowFromEntity(e, now));
    let removed = 0;
    await this.db.transaction(async tx => {
      const existing = new Map<string, { version: string; versions: string; consecutive_failures: number; first_seen_at: Date }>();
      for (let i = 0; i < rows.length; i += 500) {
        const refs = rows.slice(i, i + 500).map(r => r.agent_ref);
        const found = await tx('listings')
          .whereIn('agent_ref', refs)
          .select('agent_ref', 'version', 'versions', 'consecutive_failures', 'first_seen_at');
        for (const f of found) existing.set(f.agent_ref, f);
      }
      const full: ListingRow[] = rows.map(row => {
        const prev = existing.get(row.agent_ref);
        const versions: string[] = prev ? JSON.parse(prev.versions) : [];
        if (!versions.includes(row.version)) versions.push(row.version);
        return {
          ...row,
          versions: JSON.stringify(versions.slice(-20)),
          first_seen_at: prev ? new Date(prev.first_seen_at) : now,
          consecutive_failures:
            prev && prev.version === row.version ? prev.consecutive_failures : 0,
        };
      });
      for (let i = 0; i < full.length; i += 200) {
        await tx('listings')
          .insert(full.slice(i, i + 200))
          .onConflict('agent_ref')
          .merge();
      }
      if (options.complete) {
        const keep = new Set(full.map(r => r.agent_ref));
        const all: { agent_ref: string }[] = await tx('listings').select('agent_ref');
        const gone = all.map(r => r.agent_ref).filter(r => !keep.has(r));
        for (let i = 0; i < gone.length; i += 500) {
          removed += await tx('listings').whereIn('agent_ref', gone.slice(i, i + 500)).delete();
        }
      }
    });
    return { upserted: rows.length, removed };
  }

  private statsSubquery(since: Date) {
    return this.statsQuery(since).as('s');
  }

  private statsQuery(since: Date) {
    return this.db('usage_records')
      .where('finished_at', '>=', since)
      .groupBy('agent_ref')
      .select(
        'agent_ref',
        this.db.raw('count(*) as runs'),
        this.db.raw(
          "sum(case when state = 'succeeded' then 1 else 0 end) as succeeded",
        ),
        this.db.raw(
          "sum(case when state <> 'cancelled' then 1 else 0 end) as judged",
        ),
      );
  }

  private baseListingQuery(now: Date, withStats = true) {
    const qb = this.db('listings as l').leftJoin(
      'visibility_overrides as o',
      'o.agent_ref',
      'l.agent_ref',
    );
    if (withStats) {
      // Aggregate usage once per query (a materialized CTE), not per row: the
      // PostgreSQL planner otherwise may re-run the grouped subquery in a loop.
      qb.withMaterialized('s', this.statsQuery(new Date(now.getTime() - 30 * DAY_MS)))
        .leftJoin('s', 's.agent_ref', 'l.agent_ref');
    }
    return qb;
  }

  /** Restricts a listing query to what the viewer may see. */
  private applyVisibility(qb: Knex.QueryBuilder, viewer: Viewer) {
    if (viewer.type === 'service') return;
    qb.where(inner => {
      inner.whereRaw(`${EFFECTIVE} in (?, ?)`, ['public', 'preview']);
      if (viewer.type === 'user') {
        inner.orWhereRaw(`${EFFECTIVE} = ?`, ['internal']);
        const claims = viewer.claims;
        inner.orWhere(priv => {
          priv.whereRaw(`${EFFECTIVE} = ?`, ['private']).andWhere(member => {
            member.whereIn('l.owner_ref', claims);
            for (const claim of claims) {
              member.orWhere('l.allowed_groups', 'like', `%,${claim},%`);
            }
          });
        });
      }
    });
  }

  private applyAvailability(
    qb: Knex.QueryBuilder,
    wanted: Availability[],
    ctx: AvailabilityContext,
  ) {
    const n = ctx.degradedAfterFailures;
    qb.where(outer => {
      outer.whereRaw('1 = 0');
      for (const a of wanted) {
        outer.orWhere(w => {
          if (a === 'preview') {
            w.whereRaw(`${EFFECTIVE} = ?`, ['preview']);
            return;
          }
          w.whereRaw(`${EFFECTIVE} <> ?`, ['preview']);
          if (a === 'unavailable') {
            if (ctx.infra !== 'down') w.whereRaw('1 = 0');
          } else if (a === 'degraded') {
            if (ctx.infra === 'down') w.whereRaw('1 = 0');
            w.where('l.consecutive_failures', '>=', n);
          } else {
            const infraMatches =
              (a === 'available' && ctx.infra === 'up') ||
              (a === 'unknown' && ctx.infra === 'unknown');
            if (!infraMatches) w.whereRaw('1 = 0');
            w.where('l.consecutive_failures', '<', n);
          }
        });
      }
    });
  }

  private applyFilters(
    qb: Knex.QueryBuilder,
    query: ListingSearchQuery,
    viewer: Viewer,
    availability: AvailabilityContext,
  ) {
    this.applyVisibility(qb, viewer);
    for (const term of (query.q ?? '').toLocaleLowerCase('en-US').split(/\s+/).filter(Boolean)) {
      qb.where('l.search_text', 'like', `%${term.replace(/[%_\\]/g, '')}%`);
    }
    for (const tag of query.tags ?? []) {
      qb.where('l.tags', 'like', `%,${tag.toLocaleLowerCase('en-US')},%`);
    }
    if (query.owner) qb.where('l.owner_ref', normalizeRef(query.owner));
    if (query.pricing?.length) {
      qb.where(p => {
        for (const model of query.pricing!) p.orWhere('l.pricing_models', 'like', `%,${model},%`);
      });
    }
    if (query.visibility?.length) {
      qb.whereRaw(`${EFFECTIVE} in (${query.visibility.map(() => '?').join(', ')})`, query.visibility);
    }
    if (query.availability?.length) {
      this.applyAvailability(qb, query.availability, availability);
    }
  }

  /** Server-side discovery: filter, sort and page in SQL. */
  async searchListings(
    query: ListingSearchQuery,
    viewer: Viewer,
    availability: AvailabilityContext,
    now = new Date(),
  ): Promise<{ items: ListingRecord[]; totalCount: number }> {
    const filtered = (withStats: boolean) => {
      const qb = this.baseListingQuery(now, withStats);
      this.applyFilters(qb, query, viewer, availability);
      return qb;
    };
    const countRow = await filtered(false).count({ count: '*' }).first();
    const totalCount = Number(countRow?.count ?? 0);
    // Only the popularity and success-rate sorts need the usage statistics of
    // every match; the other sorts fetch the page, then the page's statistics.
    const statsSort = query.sort === 'popularity' || query.sort === 'successRate';
    const qb = filtered(statsSort);
    switch (query.sort) {
      case 'popularity':
        qb.orderByRaw('coalesce(s.runs, 0) desc');
        break;
      case 'successRate':
        qb.orderByRaw('coalesce(s.succeeded * 1.0 / nullif(s.judged, 0), -1) desc');
        break;
      case 'newest':
        qb.orderBy('l.first_seen_at', 'desc');
        break;
      default:
        qb.orderByRaw('lower(l.title) asc');
    }
    qb.orderBy('l.agent_ref', 'asc');
    const rows = await qb
      .select('l.*', 'o.visibility as override_visibility', ...(statsSort ? ['s.runs', 's.succeeded', 's.judged'] : []))
      .offset((query.page - 1) * query.pageSize)
      .limit(query.pageSize);
    if (!statsSort && rows.length) {
      const stats = await this.db
        .from(this.statsSubquery(new Date(now.getTime() - 30 * DAY_MS)))
        .whereIn('s.agent_ref', rows.map(r => r.agent_ref));
      const byRef = new Map(stats.map((st: any) => [st.agent_ref, st]));
      for (const row of rows) Object.assign(row, byRef.get(row.agent_ref) ?? {});
    }
    return { items: rows.map(toListingRecord), totalCount };
  }

  /** One listing if the viewer may see it (`undefined` when absent or hidden). */
  async getListing(
    agentRef: string,
    viewer: Viewer,
    now = new Date(),
  ): Promise<ListingRecord | undefined> {
    const qb = this.baseListingQuery(now).where('l.agent_ref', agentRef.toLocaleLowerCase('en-US'));
    this.applyVisibility(qb, viewer);
    const row = await qb
      .select('l.*', 'o.visibility as override_visibility', 's.runs', 's.succeeded', 's.judged')
      .first();
    return row ? toListingRecord(row) : undefined;
  }

  async listOwnedListings(claims: string[], now = new Date()): Promise<ListingRecord[]> {
    const rows = await this.baseListingQuery(now)
      .whereIn('l.owner_ref', claims)
      .select('l.*', 'o.visibility as override_visibility', 's.runs', 's.succeeded', 's.judged')
      .orderByRaw('lower(l.title) asc');
    return rows.map(toListingRecord);
  }

  async setVisibilityOverride(
    agentRef: string,
    visibility: AgentVisibility | null,
    actorRef: string,
    now = new Date(),
  ): Promise<void> {
    await this.db.transaction(async tx => {
      const before = await tx('visibility_overrides').where({ agent_ref: agentRef }).first();
      if (visibility === null) {
        await tx('visibility_overrides').where({ agent_ref: agentRef }).delete();
      } else {
        await tx('visibility_overrides')
          .insert({ agent_ref: agentRef, visibility, changed_by: actorRef, changed_at: now })
          .onConflict('agent_ref')
          .merge();
      }
      await tx('entitlement_audit').insert({
        subject: `listing:${agentRef}`,
        action: 'visibility',
        actor_ref: actorRef,
        before: JSON.stringify({ visibility: before?.visibility ?? null }),
        after: JSON.stringify({ visibility }),
        at: now,
      });
    });
  }

  async listVisibilityOverrides(): Promise<{ agentRef: string; visibility: AgentVisibility }[]> {
    const rows = await this.db('visibility_overrides').select('agent_ref', 'visibility');
    return rows.map(r => ({ agentRef: r.agent_ref, visibility: r.visibility }));
  }

  // -------------------------------------------------------------------------
  // Entitlements
  // -------------------------------------------------------------------------

  /**
   * Creates an active entitlement. There is at most one active entitlement per
   * holder and agent (unique index on `active_key`); a second one is a conflict.
   */
  async createEntitlement(options: {
    holderRef: string;
    agentRef: string;
    plan: string;
    actorRef: string;
    action: 'acquire' | 'grant';
    expiresAt?: Date;
    now?: Date;
  }): Promise<EntitlementRecord> {
    const now = options.now ?? new Date();
    const row = {
      id: randomUUID(),
      holder_ref: options.holderRef,
      agent_ref: options.agentRef,
      plan: options.plan,
      status: 'active',
      expires_at: options.expiresAt ?? null,
      created_by: options.actorRef,
      created_at: now,
      updated_at: now,
      active_key: `${options.holderRef}|${options.agentRef}`,
    };
    try {
      await this.db.transaction(async tx => {
        await tx('entitlements').insert(row);
        await tx('entitlement_audit').insert({
          subject: `entitlement:${row.id}`,
          action: options.action,
          actor_ref: options.actorRef,
          before: null,
          after: JSON.stringify(toEntitlementRecord(row)),
          at: now,
        });
      });
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new ConflictError(
          `${options.holderRef} already holds an active entitlement for ${options.agentRef}; switch its plan instead`,
        );
      }
      throw error;
    }
    return toEntitlementRecord(row);
  }

  async getEntitlement(id: string): Promise<EntitlementRecord | undefined> {
    const row = await this.db('entitlements').where({ id }).first();
    return row ? toEntitlementRecord(row) : undefined;
  }

  /**
   * Applies a change to an entitlement and records it in the audit trail, in
   * one transaction. `expectStatus` guards against concurrent changes.
   */
  async updateEntitlement(
    id: string,
    change: { plan?: string; status?: EntitlementStatus },
    actorRef: string,
    action: 'switch' | 'cancel' | 'revoke',
    now = new Date(),
  ): Promise<EntitlementRecord> {
    return await this.db.transaction(async tx => {
      const before = await tx('entitlements').where({ id }).first();
      if (!before || before.status !== 'active') {
        throw new ConflictError(`Entitlement ${id} is not active`);
      }
      const patch: Record<string, unknown> = { updated_at: now };
      if (change.plan) patch.plan = change.plan;
      if (change.status) {
        patch.status = change.status;
        if (change.status !== 'active') patch.active_key = null;
      }
      const updated = await tx('entitlements')
        .where({ id, status: 'active' })
        .update(patch);
      if (updated !== 1) throw new ConflictError(`Entitlement ${id} is not active`);
      const after = { ...before, ...patch };
      await tx('entitlement_audit').insert({
        subject: `entitlement:${id}`,
        action,
        actor_ref: actorRef,
        before: JSON.stringify(toEntitlementRecord(before)),
        after: JSON.stringify(toEntitlementRecord(after)),
        at: now,
      });
      return toEntitlementRecord(after);
    });
  }

  async listEntitlements(filter: {
    holderRefs?: string[];
    agentRefs?: string[];
    statuses?: EntitlementStatus[];
  }): Promise<EntitlementRecord[]> {
    const qb = this.db('entitlements');
    if (filter.holderRefs) qb.whereIn('holder_ref', filter.holderRefs);
    if (filter.agentRefs) qb.whereIn('agent_ref', filter.agentRefs);
    if (filter.statuses) qb.whereIn('status', filter.statuses);
    const rows = await qb.orderBy('updated_at', 'desc').orderBy('id');
    return rows.map(toEntitlementRecord);
  }

  async listAudit(subject: string) {
    const rows = await this.db('entitlement_audit').where({ subject }).orderBy('id');
    return rows.map(r => ({
      subject: r.subject as string,
      action: r.action as string,
      actorRef: r.actor_ref as string,
      before: r.before ? JSON.parse(r.before) : null,
      after: r.after ? JSON.parse(r.after) : null,
      at: toIso(r.at),
    }));
  }

  // -------------------------------------------------------------------------
  // Usage
  // -------------------------------------------------------------------------

  /**
   * Stores a usage record once (idempotent by execution id) and updates the
   * agent's failure streak. Returns false for a repeat.
   */
  async recordUsage(record: UsageRecord): Promise<boolean> {
    const agentRef = record.agentRef.toLocaleLowerCase('en-US');
    try {
      await this.db.transaction(async tx => {
        const listing = await tx('listings')
          .where({ agent_ref: agentRef })
          .select('version')
          .first();
        // A repeat violates the primary key and rolls the whole change back.
        await tx('usage_records').insert({
          execution_id: record.executionId,
          agent_ref: agentRef,
          agent_version: listing?.version ?? null,
          user_ref: record.userRef.toLocaleLowerCase('en-US'),
          holder_ref: record.holderRef.toLocaleLowerCase('en-US'),
          plan: record.plan,
          state: record.state,
          started_at: record.startedAt ? new Date(record.startedAt) : null,
          finished_at: new Date(record.finishedAt),
          compute_seconds: record.computeSeconds,
          cost: record.cost,
        });
        if (!listing) return;
        if (record.state === 'succeeded') {
          await tx('listings')
            .where({ agent_ref: agentRef })
            .update({ consecutive_failures: 0 });
        } else if (record.state === 'failed' || record.state === 'timed_out') {
          await tx('listings')
            .where({ agent_ref: agentRef })
            .increment('consecutive_failures', 1);
        }
      });
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /** Totals of usage records matching the filter since `since`. */
  async usageTotals(filter: {
    since: Date;
    agentRef?: string;
    holderRefs?: string[];
    userRef?: string;
    groupBy: 'agent_ref' | 'holder_ref' | 'user_ref' | 'plan';
    scope?: { userRef: string; holderRefs: string[] };
  }): Promise<{ key: string; agentRef: string; runs: number; computeSeconds: number; cost: number }[]> {
    const qb = this.db('usage_records').where('finished_at', '>=', filter.since);
    if (filter.agentRef) qb.where('agent_ref', filter.agentRef);
    if (filter.holderRefs) qb.whereIn('holder_ref', filter.holderRefs);
    if (filter.userRef) qb.where('user_ref', filter.userRef);
    if (filter.scope) {
      const scope = filter.scope;
      qb.where(s => s.where('user_ref', scope.userRef).orWhereIn('holder_ref', scope.holderRefs));
    }
    const rows = await qb
      .groupBy(filter.groupBy, 'agent_ref')
      .select(
        `${filter.groupBy} as key`,
        'agent_ref',
        this.db.raw('count(*) as runs'),
        this.db.raw('coalesce(sum(compute_seconds), 0) as compute_seconds'),
        this.db.raw('coalesce(sum(cost), 0) as cost'),
      );
    return rows.map((r: any) => ({
      key: r.key,
      agentRef: r.agent_ref,
      runs: Number(r.runs),
      computeSeconds: Number(r.compute_seconds),
      cost: Number(r.cost),
    }));
  }

  /** Durations (seconds) of recent succeeded runs, newest first. */
  async recentDurations(agentRef: string, limit = 200): Promise<number[]> {
    const rows = await this.db('usage_records')
      .where({ agent_ref: agentRef, state: 'succeeded' })
      .whereNotNull('started_at')
      .orderBy('finished_at', 'desc')
      .limit(limit)
      .select('started_at', 'finished_at');
    return rows.map(
      r => (new Date(r.finished_at).getTime() - new Date(r.started_at).getTime()) / 1000,
    );
  }
}

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return (
    e?.code === '23505' ||
    e?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    /UNIQUE constraint failed|duplicate key/i.test(e?.message ?? '')
  );
}

function toEntitlementRecord(row: any): EntitlementRecord {
  return {
    id: row.id,
    holderRef: row.holder_ref,
    agentRef: row.agent_ref,
    plan: row.plan,
    status: row.status,
    expiresAt: row.expires_at === null || row.expires_at === undefined ? null : toIso(row.expires_at),
    createdBy: row.created_by,
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
  };
}

function toListingRecord(row: any): ListingRecord {
  const judged = Number(row.judged ?? 0);
  return {
    agentRef: row.agent_ref,
    namespace: row.namespace,
    name: row.name,
    title: row.title,
    description: row.description,
    ownerRef: row.owner_ref,
    tags: undelimit(row.tags),
    pricingModels: undelimit(row.pricing_models) as AgentPricing[],
    allowedGroups: undelimit(row.allowed_groups),
    catalogVisibility: row.catalog_visibility,
    visibility: row.override_visibility ?? row.catalog_visibility,
    version: row.version,
    versions: JSON.parse(row.versions),
    lifecycle: row.lifecycle,
    consecutiveFailures: Number(row.consecutive_failures),
    firstSeenAt: toIso(row.first_seen_at),
    entity: JSON.parse(row.entity),
    runs30d: Number(row.runs ?? 0),
    successRate: judged > 0 ? Number(row.succeeded) / judged : null,
  };
}
