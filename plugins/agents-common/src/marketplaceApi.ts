/*
 * Response shapes of the Marketplace API that both its backend and its
 * frontend use, declared once here.
 */
import { AgentPlan, AgentVisibility } from './types';

/** Availability of an agent's runtime, separate from its listing. @public */
export type Availability =
  | 'available'
  | 'degraded'
  | 'unavailable'
  | 'preview'
  | 'unknown';

/** A plan as the marketplace presents it. @public */
export interface PlanView extends AgentPlan {
  priceText: string;
  limitsText: string;
}

/** One card of the discovery page. @public */
export interface ListingSummary {
  agentRef: string;
  namespace: string;
  name: string;
  title: string;
  description: string;
  owner: string;
  tags: string[];
  version: string;
  lifecycle: string;
  visibility: AgentVisibility;
  pricingModels: string[];
  plans: PlanView[];
  availability: Availability;
  runs30d: number;
  successRate: number | null;
}
