import { createPermission } from '@backstage/plugin-permission-common';

/**
 * Permission to start a run of an agent.
 *
 * @public
 */
export const agentExecutionCreatePermission = createPermission({
  name: 'agent.execution.create',
  attributes: { action: 'create' },
  resourceType: 'catalog-entity',
});

/**
 * Permission to read the runs of an agent.
 *
 * @public
 */
export const agentExecutionReadPermission = createPermission({
  name: 'agent.execution.read',
  attributes: { action: 'read' },
});

/**
 * Permission to cancel a run.
 *
 * @public
 */
export const agentExecutionCancelPermission = createPermission({
  name: 'agent.execution.cancel',
  attributes: { action: 'update' },
});

/**
 * Permission to re-read every listing from the catalog at once (the
 * marketplace's `POST /refresh`; the listings also follow the catalog on
 * their own schedule).
 *
 * @public
 */
export const marketplaceRefreshPermission = createPermission({
  name: 'marketplace.listings.refresh',
  attributes: { action: 'update' },
});

/** Every permission of the agent platform. @public */
export const agentPlatformPermissions = [
  agentExecutionCreatePermission,
  agentExecutionReadPermission,
  agentExecutionCancelPermission,
  marketplaceRefreshPermission,
];
