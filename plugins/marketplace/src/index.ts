/**
 * Marketplace frontend: discover, acquire and govern access to agents.
 *
 * @packageDocumentation
 */
export { marketplacePlugin, MarketplacePage } from './plugin';
export { rootRouteRef as marketplaceRouteRef } from './routes';
export * from './api';
