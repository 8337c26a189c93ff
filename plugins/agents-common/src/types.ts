import { Entity } from '@backstage/catalog-model';
import { JsonObject } from '@backstage/types';

/** The API version of the Agent kind. @public */
export const AGENT_API_VERSION = 'agentplatform.dev/v1alpha1';
/** The kind name of agents in the catalog. @public */
export const AGENT_KIND = 'Agent';

/** Tools an agent may ask for; policy decides which it is granted. @public */
export type AgentTool = 'http' | 'llm' | 'catalog';
/** All tools known to the platform. @public */
export const AGENT_TOOLS: readonly AgentTool[] = ['http', 'llm', 'catalog'];

/** Who may see and acquire an agent. @public */
export type AgentVisibility = 'public' | 'internal' | 'private' | 'preview';

/** How a plan is charged. @public */
export type AgentPricing = 'free' | 'per-run' | 'subscription' | 'metered';

/** One pricing plan of an agent's marketplace listing. @public */
export type AgentPlan = {
  name: string;
  title?: string;
  pricing: AgentPricing;
  /** Per run (per-run), per month (subscription) or per compute-second (metered). */
  price?: number;
  /** Runs included in a subscription's monthly price. */
  includedRuns?: number;
  runsPerDay?: number;
  concurrency?: number;
  maxTimeoutSeconds?: number;
};

/** The resource envelope an agent asks for. @public */
export type AgentResources = {
  cpu?: string;
  memory?: string;
  timeoutSeconds?: number;
};

/** A JSON Schema document (draft-07 subset used for inputs and outputs). @public */
export type JsonSchema = JsonObject;

/** The Agent catalog entity. @public */
export interface AgentEntityV1alpha1 extends Entity {
  apiVersion: typeof AGENT_API_VERSION;
  kind: typeof AGENT_KIND;
  spec: {
    owner: string;
    lifecycle: string;
    system?: string;
    dependsOn?: string[];
    version: string;
    runtime: { image: string; entrypoint: string };
    input: JsonSchema;
    output?: JsonSchema;
    tools?: AgentTool[];
    secrets?: string[];
    resources?: AgentResources;
    marketplace?: {
      visibility: AgentVisibility;
      allowedGroups?: string[];
      plans: AgentPlan[];
    };
  };
}

/** Alias of the current Agent entity version. @public */
export type AgentEntity = AgentEntityV1alpha1;
