import {
  createApiRef,
  DiscoveryApi,
  FetchApi,
} from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';
import { AgentVisibility } from '@internal/plugin-agents-common';
import {
  AcquireRequest,
  Entitlement,
  ListAgentsRequest,
  ListingDetail,
  ListingSummary,
  MyEntitlement,
  PublishedListing,
} from './types';

/** The marketplace backend's API. @public */
export interface MarketplaceApi {
  listAgents(
    request: ListAgentsRequest,
  ): Promise<{
    items: ListingSummary[];
    totalCount: number;
    page: number;
    pageSize: number;
  }>;
  getAgent(namespace: string, name: string): Promise<ListingDetail>;
  /**
   * Acquire a plan for me (no holderRef), for one of my groups, or, as the owner, grant it to
   * any user or group, optionally until `expiresAt` (ISO 8601).
   */
  acquire(request: AcquireRequest): Promise<Entitlement>;
  switchPlan(id: string, plan: string): Promise<Entitlement>;
  cancel(id: string): Promise<Entitlement>;
  revoke(id: string): Promise<Entitlement>;
  myEntitlements(): Promise<{ currency: string; items: MyEntitlement[] }>;
  publishing(): Promise<{ items: PublishedListing[] }>;
  setVisibility(
    namespace: string,
    name: string,
    visibility: AgentVisibility | null,
  ): Promise<void>;
}

/** @public */
export const marketplaceApiRef = createApiRef<MarketplaceApi>({
  id: 'plugin.marketplace.service',
});

/** Talks to `/api/marketplace` with the signed-in user's token. @public */
export class MarketplaceClient implements MarketplaceApi {
  constructor(
    private readonly deps: { discoveryApi: DiscoveryApi; fetchApi: FetchApi },
  ) {}

  private async call<T>(path: string, init?: RequestInit): Promise<T> {
    const baseUrl = await this.deps.discoveryApi.getBaseUrl('marketplace');
    const response = await this.deps.fetchApi.fetch(`${baseUrl}${path}`, {
      ...init,
      headers: init?.body ? { 'Content-Type': 'application/json' } : undefined,
    });
    if (!response.ok) throw await ResponseError.fromResponse(response);
    return (await response.json()) as T;
  }

  listAgents(request: ListAgentsRequest) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(request)) {
      if (
        value === undefined ||
        value === '' ||
        (Array.isArray(value) && !value.length)
      )
        continue;
      params.set(key, Array.isArray(value) ? value.join(',') : String(value));
    }
    return this.call<{
      items: ListingSummary[];
      totalCount: number;
      page: number;
      pageSize: number;
    }>(`/agents?${params}`);
  }

  getAgent(namespace: string, name: string) {
    return this.call<ListingDetail>(
      `/agents/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`,
    );
  }

  acquire(request: AcquireRequest) {
    return this.call<Entitlement>('/entitlements', {
      method: 'POST',
      body: JSON.stringify(request),
    });
  }

  switchPlan(id: string, plan: string) {
    return this.call<Entitlement>(`/entitlements/${encodeURIComponent(id)}`, {
      method: 'PATCH',
      body: JSON.stringify({ plan }),
    });
  }

  cancel(id: string) {
    return this.call<Entitlement>(
      `/entitlements/${encodeURIComponent(id)}/cancel`,
      { method: 'POST' },
    );
  }

  revoke(id: string) {
    return this.call<Entitlement>(
      `/entitlements/${encodeURIComponent(id)}/revoke`,
      { method: 'POST' },
    );
  }

  myEntitlements() {
    return this.call<{ currency: string; items: MyEntitlement[] }>(
      '/entitlements?mine=true',
    );
  }

  publishing() {
    return this.call<{ items: PublishedListing[] }>('/publishing');
  }

  async setVisibility(
    namespace: string,
    name: string,
    visibility: AgentVisibility | null,
  ) {
    await this.call(
      `/agents/${encodeURIComponent(namespace)}/${encodeURIComponent(
        name,
      )}/visibility`,
      {
        method: 'PUT',
        body: JSON.stringify({ visibility }),
      },
    );
  }
}
