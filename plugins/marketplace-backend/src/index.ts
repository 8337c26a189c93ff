/**
 * Marketplace backend: agent discovery, listing visibility, plans,
 * entitlements and usage; plus the catalog permission rule for Agent visibility.
 *
 * @packageDocumentation
 */
export { marketplacePlugin as default } from './plugin';
export {
  agentVisibilityRule,
  isAgentVisible,
  catalogModuleAgentVisibility,
  type AgentVisibilityParams,
} from './permissions/agentVisibilityRule';
export { MarketplaceStore, applyMigrations } from './database/MarketplaceStore';
export type { Viewer, ListingSearchQuery } from './database/types';
