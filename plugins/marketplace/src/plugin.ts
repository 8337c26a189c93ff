import {
  createApiFactory,
  createPlugin,
  createRoutableExtension,
  discoveryApiRef,
  fetchApiRef,
} from '@backstage/core-plugin-api';
import { marketplaceApiRef, MarketplaceClient } from './api';
import { listingRouteRef, rootRouteRef } from './routes';

/** @public */
export const marketplacePlugin = createPlugin({
  id: 'marketplace',
  apis: [
    createApiFactory({
      api: marketplaceApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: deps => new MarketplaceClient(deps),
    }),
  ],
  routes: { root: rootRouteRef, listing: listingRouteRef },
});

/** Discovery, listing, "My agents" and publishing pages under one route. @public */
export const MarketplacePage = marketplacePlugin.provide(
  createRoutableExtension({
    name: 'MarketplacePage',
    component: () =>
      import('./components/MarketplacePage').then(m => m.MarketplacePage),
    mountPoint: rootRouteRef,
  }),
);
