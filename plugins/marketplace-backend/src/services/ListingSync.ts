import {
  AuthService,
  LoggerService,
} from '@backstage/backend-plugin-api';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { AGENT_KIND, AgentEntity, isAgentEntity } from '@internal/plugin-agents-common';
import { MarketplaceStore } from '../database/MarketplaceStore';

/**
 * Keeps the listing index in step with the catalog: reads every Agent entity
 * with the plugin's own service credentials (the catalog's permission policy
 * never hides entities from services).
 */
export class ListingSync {
  constructor(
    private readonly deps: {
      catalog: CatalogService;
      auth: AuthService;
      store: MarketplaceStore;
      logger: LoggerService;
    },
  ) {}

  /** Full sync: upserts every Agent and drops listings the catalog no longer has. */
  async syncAll(): Promise<{ upserted: number; removed: number }> {
    const credentials = await this.deps.auth.getOwnServiceCredentials();
    const agents: AgentEntity[] = [];
    let cursor: string | undefined;
    do {
      const response = await this.deps.catalog.queryEntities(
        cursor ? { cursor, limit: 500 } : { filter: { kind: AGENT_KIND }, limit: 500 },
        { credentials },
      );
      agents.push(...response.items.filter(isAgentEntity));
      cursor = response.pageInfo.nextCursor;
    } while (cursor);
    const result = await this.deps.store.syncListings(agents, { complete: true });
    this.deps.logger.info('Marketplace listings synced from the catalog', result);
    return result;
  }

  /** On-demand refresh of one agent; returns false when the catalog has no such Agent. */
  async syncOne(agentRef: string): Promise<boolean> {
    const credentials = await this.deps.auth.getOwnServiceCredentials();
    const entity = await this.deps.catalog.getEntityByRef(agentRef, { credentials });
    if (!entity || !isAgentEntity(entity)) return false;
    await this.deps.store.syncListings([entity], { complete: false });
    return true;
  }
}
