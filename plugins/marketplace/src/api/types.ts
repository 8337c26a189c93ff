import type {
  AgentVisibility,
  ListingSummary,
  PlanView,
} from '@internal/plugin-agents-common';
import { Entity } from '@backstage/catalog-model';

export type {
  Availability,
  ListingSummary,
  PlanView,
} from '@internal/plugin-agents-common';

/** @public */
export interface Entitlement {
  id: string;
  holderRef: string;
  agentRef: string;
  plan: string;
  status: 'active' | 'cancelled' | 'revoked';
  expiresAt: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

/** Body of `POST /entitlements`. @public */
export interface AcquireRequest {
  agentRef: string;
  plan: string;
  holderRef?: string;
  expiresAt?: string;
}

/** @public */
export interface ListingDetail extends ListingSummary {
  currency: string;
  versions: string[];
  runnable: boolean;
  typicalDurationSeconds: number | null;
  myEntitlements: Entitlement[];
  isOwner: boolean;
  entity: Entity;
}

/** @public */
export interface ListAgentsRequest {
  q?: string;
  tags?: string[];
  owner?: string;
  pricing?: string[];
  visibility?: string[];
  availability?: string[];
  sort?: 'name' | 'popularity' | 'successRate' | 'newest';
  page?: number;
  pageSize?: number;
}

/** @public */
export interface MyEntitlement extends Entitlement {
  expired: boolean;
  agentTitle: string;
  plans: PlanView[];
  planDetails: PlanView | null;
  usage: {
    periodStart: string;
    runs: number;
    runsToday: number;
    computeSeconds: number;
    cost: number;
  };
}

/** @public */
export interface PublishedListing extends ListingSummary {
  catalogVisibility: AgentVisibility;
  allowedGroups: string[];
  entitlements: Entitlement[];
}
