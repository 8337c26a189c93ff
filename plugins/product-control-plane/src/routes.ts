import { createExternalRouteRef } from '@backstage/core-plugin-api';

/**
 * Where a user acquires a plan for an agent (the marketplace listing), linked
 * from a refused run. Optional: without it the refusal has no link.
 *
 * @public
 */
export const marketplaceListingRouteRef = createExternalRouteRef({
  id: 'marketplace-listing',
  params: ['namespace', 'name'],
  optional: true,
});
