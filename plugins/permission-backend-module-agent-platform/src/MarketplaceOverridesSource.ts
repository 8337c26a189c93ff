import {
  AuthService,
  DiscoveryService,
  LoggerService,
} from '@backstage/backend-plugin-api';
import { MARKETPLACE_PLUGIN_ID } from '@internal/plugin-agents-common';

/** Agents whose visibility an owner changed in the marketplace. @public */
export type VisibilityOverrides = { privateRefs: string[]; openRefs: string[] };

/** Source of the marketplace's visibility overrides (owner changes made in the portal). */
export interface VisibilityOverridesSource {
  get(): Promise<VisibilityOverrides>;
}

/**
 * Reads `GET /api/marketplace/visibility-overrides` with service auth, cached
 * for a few seconds. When the marketplace is unreachable the last answer (or
 * none) is used and the catalog YAML decides.
 */
export class MarketplaceOverridesSource implements VisibilityOverridesSource {
  private cached?: { at: number; value: VisibilityOverrides };

  constructor(
    private readonly deps: {
      discovery: DiscoveryService;
      auth: AuthService;
      logger: LoggerService;
      cacheMillis: number;
    },
  ) {}

  async get(): Promise<VisibilityOverrides> {
    if (this.cached && Date.now() - this.cached.at < this.deps.cacheMillis) {
      return this.cached.value;
    }
    try {
      const baseUrl = await this.deps.discovery.getBaseUrl(
        MARKETPLACE_PLUGIN_ID,
      );
      const { token } = await this.deps.auth.getPluginRequestToken({
        onBehalfOf: await this.deps.auth.getOwnServiceCredentials(),
        targetPluginId: MARKETPLACE_PLUGIN_ID,
      });
      const response = await fetch(`${baseUrl}/visibility-overrides`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(3000),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = (await response.json()) as {
        items: { agentRef: string; visibility: string }[];
      };
      const value = {
        privateRefs: body.items
          .filter(i => i.visibility === 'private')
          .map(i => i.agentRef),
        openRefs: body.items
          .filter(i => i.visibility !== 'private')
          .map(i => i.agentRef),
      };
      this.cached = { at: Date.now(), value };
      return value;
    } catch (error) {
      this.deps.logger.warn(
        'Marketplace visibility overrides unavailable; using the catalog YAML',
        {
          error: String(error),
        },
      );
      return this.cached?.value ?? { privateRefs: [], openRefs: [] };
    }
  }
}
