import {
  AuthService,
  DiscoveryService,
  LoggerService,
  UserInfoService,
} from '@backstage/backend-plugin-api';
import { catalogEntityReadPermission } from '@backstage/plugin-catalog-common/alpha';
import { createCatalogConditionalDecision } from '@backstage/plugin-catalog-backend/alpha';
import {
  AuthorizeResult,
  isPermission,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import {
  PermissionPolicy,
  PolicyQuery,
  PolicyQueryUser,
} from '@backstage/plugin-permission-node';
import {
  agentPlatformPermissions,
  MARKETPLACE_PLUGIN_ID,
} from '@internal/plugin-agents-common';
import { isAgentVisible } from '@internal/plugin-marketplace-backend';

type Overrides = { privateRefs: string[]; openRefs: string[] };

/** Source of the marketplace's visibility overrides (owner changes made in the portal). */
export interface VisibilityOverridesSource {
  get(): Promise<Overrides>;
}

/**
 * Reads `GET /api/marketplace/visibility-overrides` with service auth, cached
 * for a few seconds. When the marketplace is unreachable the last answer (or
 * none) is used and the catalog YAML decides.
 */
export class MarketplaceOverridesSource implements VisibilityOverridesSource {
  private cached?: { at: number; value: Overrides };

  constructor(
    private readonly deps: {
      discovery: DiscoveryService;
      auth: AuthService;
      logger: LoggerService;
      cacheMillis: number;
    },
  ) {}

  async get(): Promise<Overrides> {
    if (this.cached && Date.now() - this.cached.at < this.deps.cacheMillis) {
      return this.cached.value;
    }
    try {
      const baseUrl = await this.deps.discovery.getBaseUrl(MARKETPLACE_PLUGIN_ID);
      const { token } = await this.deps.auth.getPluginRequestToken({
        onBehalfOf: await this.deps.auth.getOwnServiceCredentials(),
        targetPluginId: MARKETPLACE_PLUGIN_ID,
      });
      const response = await fetch(`${baseUrl}/visibility-overrides`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(3000),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = (await response.json()) as { items: { agentRef: string; visibility: string }[] };
      const value = {
        privateRefs: body.items.filter(i => i.visibility === 'private').map(i => i.agentRef),
        openRefs: body.items.filter(i => i.visibility !== 'private').map(i => i.agentRef),
      };
      this.cached = { at: Date.now(), value };
      return value;
    } catch (error) {
      this.deps.logger.warn('Marketplace visibility overrides unavailable; using the catalog YAML', {
        error: String(error),
      });
      return this.cached?.value ?? { privateRefs: [], openRefs: [] };
    }
  }
}

/**
 * The portal's permission policy:
 * - `catalog.entity.read` for a user: conditional on the marketplace listing
 *   rules, so private Agents are hidden from non-members in the catalog API
 *   and in search (which authorizes through the catalog);
 * - `agent.execution.*`: allowed for signed-in users (the product control
 *   plane checks entitlements and per-run ownership itself);
 * - everything else: allowed, as the allow-all policy did before.
 *
 * @public
 */
export class AgentPlatformPermissionPolicy implements PermissionPolicy {
  constructor(
    private readonly deps: {
      userInfo: UserInfoService;
      overrides: VisibilityOverridesSource;
    },
  ) {}

  async handle(request: PolicyQuery, user?: PolicyQueryUser): Promise<PolicyDecision> {
    if (isPermission(request.permission, catalogEntityReadPermission)) {
      if (!user) return { result: AuthorizeResult.DENY };
      const info = await this.deps.userInfo.getUserInfo(user.credentials);
      const claims = [
        ...new Set([info.userEntityRef, ...info.ownershipEntityRefs].map(r => r.toLocaleLowerCase('en-US'))),
      ];
      const overrides = await this.deps.overrides.get();
      return createCatalogConditionalDecision(
        request.permission,
        isAgentVisible({ claims, ...overrides }),
      );
    }
    if (agentPlatformPermissions.some(p => p.name === request.permission.name)) {
      return { result: user ? AuthorizeResult.ALLOW : AuthorizeResult.DENY };
    }
    return { result: AuthorizeResult.ALLOW };
  }
}
