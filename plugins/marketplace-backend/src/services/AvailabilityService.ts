import {
  AuthService,
  DiscoveryService,
  LoggerService,
} from '@backstage/backend-plugin-api';
import { INFRA_CONTROL_PLANE_PLUGIN_ID } from '@internal/plugin-agents-common';
import { Availability, AvailabilityContext, ListingRecord } from '../database/types';

/** The infra control plane's health as seen by the marketplace. */
export type InfraHealth = AvailabilityContext['infra'];

/**
 * Availability is separate from the listing: it combines the infra control
 * plane's health signal (`GET /api/infra-control-plane/health`; 'unknown' when
 * the plugin is absent or silent) with each agent's failure streak (degraded
 * after N consecutive failures; a success or a new version resets it).
 */
export class AvailabilityService {
  private cached?: { at: number; value: InfraHealth };

  constructor(
    private readonly deps: {
      discovery: DiscoveryService;
      auth: AuthService;
      logger: LoggerService;
      degradedAfterFailures: number;
      cacheMillis?: number;
      fetch?: typeof fetch;
    },
  ) {}

  async context(): Promise<AvailabilityContext> {
    return {
      infra: await this.infraHealth(),
      degradedAfterFailures: this.deps.degradedAfterFailures,
    };
  }

  async infraHealth(): Promise<InfraHealth> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < (this.deps.cacheMillis ?? 15_000)) {
      return this.cached.value;
    }
    const value = await this.fetchInfraHealth();
    this.cached = { at: now, value };
    return value;
  }

  private async fetchInfraHealth(): Promise<InfraHealth> {
    try {
      const baseUrl = await this.deps.discovery.getBaseUrl(INFRA_CONTROL_PLANE_PLUGIN_ID);
      const { token } = await this.deps.auth.getPluginRequestToken({
        onBehalfOf: await this.deps.auth.getOwnServiceCredentials(),
        targetPluginId: INFRA_CONTROL_PLANE_PLUGIN_ID,
      });
      const response = await (this.deps.fetch ?? fetch)(`${baseUrl}/health`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(2000),
      });
      if (response.status === 404) return 'unknown';
      if (!response.ok) return 'down';
      const body = (await response.json().catch(() => ({}))) as { status?: string; healthy?: boolean };
      const status = String(body.status ?? (body.healthy === false ? 'down' : 'ok')).toLowerCase();
      return ['ok', 'up', 'healthy', 'degraded'].includes(status) ? 'up' : 'down';
    } catch (error) {
      this.deps.logger.debug('Infra control plane health unavailable', {
        error: String(error),
      });
      return 'unknown';
    }
  }
}

/** The availability badge of one listing. */
export function availabilityOf(
  listing: Pick<ListingRecord, 'visibility' | 'consecutiveFailures'>,
  ctx: AvailabilityContext,
): Availability {
  if (listing.visibility === 'preview') return 'preview';
  if (ctx.infra === 'down') return 'unavailable';
  if (listing.consecutiveFailures >= ctx.degradedAfterFailures) return 'degraded';
  return ctx.infra === 'up' ? 'available' : 'unknown';
}
