import {
  AgentEntity,
  AgentPlan,
  AgentPricing,
  AgentVisibility,
  Availability,
} from '@internal/plugin-agents-common';

/** Who is asking: a signed-in user with ownership refs, a service, or nobody. */
export type Viewer =
  | { type: 'user'; userRef: string; claims: string[] }
  | { type: 'service' }
  | { type: 'none' };

export type { Availability };

/** One indexed Agent listing (a row of `listings` plus its override). */
export interface ListingRecord {
  agentRef: string;
  namespace: string;
  name: string;
  title: string;
  description: string;
  ownerRef: string;
  tags: string[];
  pricingModels: AgentPricing[];
  allowedGroups: string[];
  catalogVisibility: AgentVisibility;
  /** The visibility in force: the owner's override, else the catalog's. */
  visibility: AgentVisibility;
  version: string;
  versions: string[];
  lifecycle: string;
  consecutiveFailures: number;
  firstSeenAt: string;
  entity: AgentEntity;
  /** Runs that finished in the last 30 days. */
  runs30d: number;
  /** Share of succeeded runs among finished runs (excl. cancelled) in the last 30 days. */
  successRate: number | null;
}

export type EntitlementStatus = 'active' | 'cancelled' | 'revoked';

export interface EntitlementRecord {
  id: string;
  holderRef: string;
  agentRef: string;
  plan: string;
  status: EntitlementStatus;
  expiresAt: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface ListingSearchQuery {
  q?: string;
  tags?: string[];
  owner?: string;
  pricing?: AgentPricing[];
  visibility?: AgentVisibility[];
  /** Consecutive failures at or over which an agent counts as degraded. */
  availability?: Availability[];
  sort: 'name' | 'popularity' | 'successRate' | 'newest';
  page: number;
  pageSize: number;
}

export interface AvailabilityContext {
  infra: 'up' | 'down' | 'unknown';
  degradedAfterFailures: number;
}

export type { AgentPlan };
