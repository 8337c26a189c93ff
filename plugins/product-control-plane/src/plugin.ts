import {
  createApiFactory,
  createComponentExtension,
  createPlugin,
  discoveryApiRef,
  fetchApiRef,
} from '@backstage/core-plugin-api';
import { productControlPlaneApiRef } from './api/ProductControlPlaneApi';
import { ProductControlPlaneClient } from './api/ProductControlPlaneClient';
import { marketplaceListingRouteRef } from './routes';

/** The product control plane frontend plugin. @public */
export const productControlPlanePlugin = createPlugin({
  id: 'product-control-plane',
  apis: [
    createApiFactory({
      api: productControlPlaneApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: deps => new ProductControlPlaneClient(deps),
    }),
  ],
  externalRoutes: { marketplaceListing: marketplaceListingRouteRef },
});

/**
 * The "Runs" tab content of Agent entity pages.
 *
 * @public
 */
export const EntityAgentRunsContent = productControlPlanePlugin.provide(
  createComponentExtension({
    name: 'EntityAgentRunsContent',
    component: {
      lazy: () =>
        import('./components/EntityAgentRunsContent').then(
          m => m.EntityAgentRunsContent,
        ),
    },
  }),
);
