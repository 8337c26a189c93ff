import { createRouteRef, createSubRouteRef } from '@backstage/core-plugin-api';

/** @public */
export const rootRouteRef = createRouteRef({ id: 'marketplace' });

/** One agent's listing: its plans and how to acquire one. @public */
export const listingRouteRef = createSubRouteRef({
  id: 'marketplace/listing',
  parent: rootRouteRef,
  path: '/agents/:namespace/:name',
});
