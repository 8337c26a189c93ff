import { InputError, NotAllowedError, NotFoundError } from '@backstage/errors';
import {
  AgentPlan,
  AgentVisibility,
  EntitlementCheckRequest,
  EntitlementCheckResponse,
  formatPlanLimits,
  formatPlanPrice,
  ListingSummary,
  PlanView,
  UsageRecord,
} from '@internal/plugin-agents-common';
import { MarketplaceStore, normalizeRef } from '../database/MarketplaceStore';
import {
  Availability,
  EntitlementRecord,
  ListingRecord,
  ListingSearchQuery,
  Viewer,
} from '../database/types';
import { AvailabilityService, availabilityOf } from './AvailabilityService';
import { ListingSync } from './ListingSync';

export type { ListingSummary, PlanView } from '@internal/plugin-agents-common';

type UserViewer = Extract<Viewer, { type: 'user' }>;

/** The start of the current billing period (calendar month, UTC). */
export function periodStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

function dayStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

function median(values: number[]): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The marketplace's rules: who sees which listing, who may acquire, switch,
 * cancel, grant and revoke, and what the product control plane is told when
 * it asks whether a run is allowed.
 *
 * Split of "over-limit": the marketplace owns plans and entitlements and
 * answers with the plan's limits; runs-per-day and concurrency counters are
 * enforced by the product control plane, which owns execution counters. The
 * marketplace itself refuses ('not-entitled') only when a subscription's
 * included runs for the current period are used up (from usage records).
 */
export class MarketplaceService {
  constructor(
    private readonly deps: {
      store: MarketplaceStore;
      sync: ListingSync;
      availability: AvailabilityService;
      currency: string;
      now?: () => Date;
    },
  ) {}

  private now() {
    return this.deps.now?.() ?? new Date();
  }

  private plansOf(listing: ListingRecord): PlanView[] {
    return (listing.entity.spec.marketplace?.plans ?? []).map(plan => ({
      ...plan,
      priceText: formatPlanPrice(plan, this.deps.currency),
      limitsText: formatPlanLimits(plan),
    }));
  }

  private summarize(listing: ListingRecord, availability: Availability): ListingSummary {
    return {
      agentRef: listing.agentRef,
      namespace: listing.namespace,
      name: listing.name,
      title: listing.title,
      description: listing.description,
      owner: listing.ownerRef,
      tags: listing.tags,
      version: listing.version,
      lifecycle: listing.lifecycle,
      visibility: listing.visibility,
      pricingModels: listing.pricingModels,
      plans: this.plansOf(listing),
      availability,
      runs30d: listing.runs30d,
      successRate: listing.successRate,
    };
  }

  async listAgents(query: ListingSearchQuery, viewer: Viewer) {
    const ctx = await this.deps.availability.context();
    const { items, totalCount } = await this.deps.store.searchListings(query, viewer, ctx, this.now());
    return {
      items: items.map(l => this.summarize(l, availabilityOf(l, ctx))),
      totalCount,
      page: query.page,
      pageSize: query.pageSize,
    };
  }

  /** A listing the viewer may see; refreshes from the catalog on a miss. Hidden = not found. */
  async requireListing(agentRef: string, viewer: Viewer): Promise<ListingRecord> {
    const ref = normalizeRef(agentRef, 'agent');
    let listing = await this.deps.store.getListing(ref, viewer, this.now());
    if (!listing) {
      const exists = await this.deps.store.getListing(ref, { type: 'service' });
      if (!exists && (await this.deps.sync.syncOne(ref))) {
        listing = await this.deps.store.getListing(ref, viewer, this.now());
      }
    }
    if (!listing) throw new NotFoundError(`Agent ${ref} not found`);
    return listing;
  }

  async getAgent(agentRef: string, viewer: Viewer) {
    const listing = await this.requireListing(agentRef, viewer);
    const ctx = await this.deps.availability.context();
    const durations = await this.deps.store.recentDurations(listing.agentRef);
    const myEntitlements =
      viewer.type === 'user'
        ? await this.deps.store.listEntitlements({
            holderRefs: viewer.claims,
            agentRefs: [listing.agentRef],
            statuses: ['active'],
          })
        : [];
    const spec = listing.entity.spec;
    return {
      ...this.summarize(listing, availabilityOf(listing, ctx)),
      currency: this.deps.currency,
      versions: listing.versions,
      runnable: listing.visibility !== 'preview',
      input: spec.input,
      output: spec.output ?? null,
      tools: spec.tools ?? [],
      resources: spec.resources ?? {},
      typicalDurationSeconds: median(durations),
      myEntitlements,
      isOwner: viewer.type === 'user' && viewer.claims.includes(listing.ownerRef),
      entity: listing.entity,
    };
  }

  private requirePlan(listing: ListingRecord, planName: string): AgentPlan {
    const plan = listing.entity.spec.marketplace?.plans.find(p => p.name === planName);
    if (!plan) {
      throw new InputError(`Plan "${planName}" not found for ${listing.agentRef}`);
    }
    return plan;
  }

  async acquire(
    viewer: UserViewer,
    request: { agentRef: string; plan: string; holderRef?: string; expiresAt?: string },
  ): Promise<EntitlementRecord> {
    const listing = await this.requireListing(request.agentRef, viewer);
    this.requirePlan(listing, request.plan);
    const holderRef = request.holderRef ? normalizeRef(request.holderRef, 'user') : viewer.userRef;
    const isOwner = viewer.claims.includes(listing.ownerRef);
    const isSelfOrTeam = holderRef === viewer.userRef || (holderRef.startsWith('group:') && viewer.claims.includes(holderRef));
    if (!isSelfOrTeam && !isOwner) {
      throw new NotAllowedError(
        `You may acquire for yourself or a group you belong to; ${holderRef} is neither`,
      );
    }
    if (request.expiresAt && !isOwner) {
      throw new NotAllowedError('Only the owner may grant an entitlement with an expiry');
    }
    return this.deps.store.createEntitlement({
      holderRef,
      agentRef: listing.agentRef,
      plan: request.plan,
      actorRef: viewer.userRef,
      action: isSelfOrTeam ? 'acquire' : 'grant',
      expiresAt: request.expiresAt ? new Date(request.expiresAt) : undefined,
      now: this.now(),
    });
  }

  private async requireEntitlement(id: string) {
    const entitlement = await this.deps.store.getEntitlement(id);
    if (!entitlement) throw new NotFoundError(`Entitlement ${id} not found`);
    const listing = await this.deps.store.getListing(entitlement.agentRef, { type: 'service' });
    return { entitlement, ownerRef: listing?.ownerRef, listing };
  }

  async switchPlan(viewer: UserViewer, id: string, plan: string) {
    const { entitlement, ownerRef, listing } = await this.requireEntitlement(id);
    if (!viewer.claims.includes(entitlement.holderRef) && viewer.claims.includes(ownerRef ?? '') === false) {
      throw new NotAllowedError(`Only a holder or the owner may change entitlement ${id}`);
    }
    if (!listing) throw new NotFoundError(`Agent ${entitlement.agentRef} not found`);
    this.requirePlan(listing, plan);
    return this.deps.store.updateEntitlement(id, { plan }, viewer.userRef, 'switch', this.now());
  }

  async cancel(viewer: UserViewer, id: string) {
    const { entitlement } = await this.requireEntitlement(id);
    if (!viewer.claims.includes(entitlement.holderRef)) {
      throw new NotAllowedError(`Only a holder may cancel entitlement ${id}`);
    }
    return this.deps.store.updateEntitlement(id, { status: 'cancelled' }, viewer.userRef, 'cancel', this.now());
  }

  async revoke(viewer: UserViewer, id: string) {
    const { ownerRef } = await this.requireEntitlement(id);
    if (!ownerRef || !viewer.claims.includes(ownerRef)) {
      throw new NotAllowedError(`Only the owner of the agent may revoke entitlement ${id}`);
    }
    return this.deps.store.updateEntitlement(id, { status: 'revoked' }, viewer.userRef, 'revoke', this.now());
  }

  async audit(viewer: UserViewer, id: string) {
    const { entitlement, ownerRef } = await this.requireEntitlement(id);
    if (!viewer.claims.includes(entitlement.holderRef) && !viewer.claims.includes(ownerRef ?? '')) {
      throw new NotAllowedError(`Only a holder or the owner may read the audit of ${id}`);
    }
    return this.deps.store.listAudit(`entitlement:${id}`);
  }

  /** My entitlements with plan, usage in the period and today, against limits. */
  async myEntitlements(viewer: UserViewer, includeInactive: boolean) {
    const entitlements = await this.deps.store.listEntitlements({
      holderRefs: viewer.claims,
      statuses: includeInactive ? undefined : ['active'],
    });
    const now = this.now();
    const period = await this.deps.store.usageTotals({ since: periodStart(now), holderRefs: viewer.claims, groupBy: 'holder_ref' });
    const today = await this.deps.store.usageTotals({ since: dayStart(now), holderRefs: viewer.claims, groupBy: 'holder_ref' });
    const find = (rows: typeof period, e: EntitlementRecord) =>
      rows.find(r => r.key === e.holderRef && r.agentRef === e.agentRef);
    const items = [];
    for (const e of entitlements) {
      const listing = await this.deps.store.getListing(e.agentRef, { type: 'service' });
      const plan = listing?.entity.spec.marketplace?.plans.find(p => p.name === e.plan);
      const used = find(period, e);
      items.push({
        ...e,
        expired: e.expiresAt !== null && new Date(e.expiresAt) <= now,
        agentTitle: listing?.title ?? e.agentRef,
        plans: listing ? this.plansOf(listing) : [],
        planDetails: plan
          ? { ...plan, priceText: formatPlanPrice(plan, this.deps.currency), limitsText: formatPlanLimits(plan) }
          : null,
        usage: {
          periodStart: periodStart(now).toISOString(),
          runs: used?.runs ?? 0,
          runsToday: find(today, e)?.runs ?? 0,
          computeSeconds: used?.computeSeconds ?? 0,
          cost: used?.cost ?? 0,
        },
      });
    }
    return { currency: this.deps.currency, items };
  }

  /** Usage in the current period, per agent, per holder (me or my teams) and mine. */
  async usage(viewer: UserViewer) {
    const since = periodStart(this.now());
    const scope = { userRef: viewer.userRef, holderRefs: viewer.claims };
    const sum = (rows: { runs: number; computeSeconds: number; cost: number }[]) =>
      rows.reduce(
        (acc, r) => ({ runs: acc.runs + r.runs, computeSeconds: acc.computeSeconds + r.computeSeconds, cost: acc.cost + r.cost }),
        { runs: 0, computeSeconds: 0, cost: 0 },
      );
    const byAgent = await this.deps.store.usageTotals({ since, scope, groupBy: 'agent_ref' });
    const byHolder = await this.deps.store.usageTotals({ since, scope, groupBy: 'holder_ref' });
    const mine = await this.deps.store.usageTotals({ since, userRef: viewer.userRef, groupBy: 'user_ref' });
    const groupBy = (rows: typeof byAgent) => {
      const map = new Map<string, { key: string; runs: number; computeSeconds: number; cost: number }>();
      for (const r of rows) {
        const acc = map.get(r.key) ?? { key: r.key, runs: 0, computeSeconds: 0, cost: 0 };
        acc.runs += r.runs;
        acc.computeSeconds += r.computeSeconds;
        acc.cost += r.cost;
        map.set(r.key, acc);
      }
      return [...map.values()];
    };
    return {
      currency: this.deps.currency,
      periodStart: since.toISOString(),
      user: { userRef: viewer.userRef, ...sum(mine) },
      byAgent: groupBy(byAgent),
      byHolder: groupBy(byHolder),
    };
  }

  async publishing(viewer: UserViewer) {
    const listings = await this.deps.store.listOwnedListings(viewer.claims, this.now());
    const ctx = await this.deps.availability.context();
    const holders = await this.deps.store.listEntitlements({
      agentRefs: listings.map(l => l.agentRef),
      statuses: ['active'],
    });
    return {
      items: listings.map(l => ({
        ...this.summarize(l, availabilityOf(l, ctx)),
        catalogVisibility: l.catalogVisibility,
        allowedGroups: l.allowedGroups,
        entitlements: holders.filter(h => h.agentRef === l.agentRef),
      })),
    };
  }

  async setVisibility(viewer: UserViewer, agentRef: string, visibility: AgentVisibility | null) {
    const listing = await this.requireListing(agentRef, viewer);
    if (!viewer.claims.includes(listing.ownerRef)) {
      throw new NotAllowedError(`Only the owner (${listing.ownerRef}) may change the visibility of ${listing.agentRef}`);
    }
    await this.deps.store.setVisibilityOverride(listing.agentRef, visibility, viewer.userRef, this.now());
    return { agentRef: listing.agentRef, visibility: visibility ?? listing.catalogVisibility, override: visibility };
  }

  /** The answer to the product control plane: may this principal run this agent now? */
  async check(request: EntitlementCheckRequest): Promise<EntitlementCheckResponse> {
    const userRef = normalizeRef(request.userRef, 'user');
    const claims = [...new Set([userRef, ...request.ownershipRefs.map(r => normalizeRef(r, 'group'))])];
    const agentRef = normalizeRef(request.agentRef, 'agent');
    const viewer: Viewer = { type: 'user', userRef, claims };
    let listing = await this.deps.store.getListing(agentRef, { type: 'service' });
    if (!listing && (await this.deps.sync.syncOne(agentRef))) {
      listing = await this.deps.store.getListing(agentRef, { type: 'service' });
    }
    if (!listing) {
      return { allowed: false, code: 'agent-not-found', reason: `Agent ${agentRef} not found` };
    }
    if (!(await this.deps.store.getListing(agentRef, viewer))) {
      return { allowed: false, code: 'not-visible', reason: `${agentRef} is not visible to ${userRef}` };
    }
    const plans = listing.entity.spec.marketplace?.plans ?? [];
    if (request.plan && !plans.some(p => p.name === request.plan)) {
      return { allowed: false, code: 'plan-not-found', reason: `Plan "${request.plan}" not found for ${agentRef}` };
    }
    if (listing.visibility === 'preview') {
      return { allowed: false, code: 'not-runnable', reason: `${agentRef} is a preview: acquirable, not yet runnable` };
    }
    const now = this.now();
    const all = (await this.deps.store.listEntitlements({ holderRefs: claims, agentRefs: [agentRef] }))
      .filter(e => !request.plan || e.plan === request.plan);
    const usable = all.filter(e => e.status === 'active' && (e.expiresAt === null || new Date(e.expiresAt) > now));
    if (!usable.length) {
      const latest = all[0];
      if (!latest) {
        return { allowed: false, code: 'not-entitled', reason: `${userRef} holds no entitlement for ${agentRef}${request.plan ? ` on plan "${request.plan}"` : ''}` };
      }
      if (latest.status === 'active') {
        return { allowed: false, code: 'expired', reason: `The entitlement for ${agentRef} expired at ${latest.expiresAt}` };
      }
      return { allowed: false, code: 'cancelled', reason: `The entitlement for ${agentRef} was ${latest.status}` };
    }
    // Prefer the user's own entitlement, then team ones.
    usable.sort((a, b) => Number(b.holderRef === userRef) - Number(a.holderRef === userRef));
    let exhausted: string | undefined;
    for (const entitlement of usable) {
      const plan = plans.find(p => p.name === entitlement.plan);
      if (!plan) continue;
      if (plan.pricing === 'subscription' && plan.includedRuns !== undefined) {
        const [used] = await this.deps.store.usageTotals({
          since: periodStart(now), agentRef, holderRefs: [entitlement.holderRef], groupBy: 'holder_ref',
        });
        if ((used?.runs ?? 0) >= plan.includedRuns) {
          exhausted = `The ${plan.includedRuns} runs included in "${plan.name}" are used up for this period`;
          continue;
        }
      }
      return { allowed: true, entitlementId: entitlement.id, holderRef: entitlement.holderRef, plan };
    }
    if (exhausted) return { allowed: false, code: 'not-entitled', reason: exhausted };
    return { allowed: false, code: 'plan-not-found', reason: `The entitled plan no longer exists on ${agentRef}` };
  }

  async recordUsage(record: UsageRecord) {
    const recorded = await this.deps.store.recordUsage(record);
    return { recorded, executionId: record.executionId };
  }

  visibilityOverrides() {
    return this.deps.store.listVisibilityOverrides();
  }
}
