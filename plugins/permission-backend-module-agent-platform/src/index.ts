/**
 * The Agent Platform permission policy module.
 *
 * @packageDocumentation
 */
export { permissionModuleAgentPlatformPolicy as default } from './module';
export {
  AgentPlatformPermissionPolicy,
  type AgentPlatformPermissionPolicyOptions,
} from './AgentPlatformPermissionPolicy';
export {
  MarketplaceOverridesSource,
  type VisibilityOverrides,
  type VisibilityOverridesSource,
} from './MarketplaceOverridesSource';
export {
  ACCESS_DESCRIPTIONS,
  ADMIN_TEMPLATE_TAG,
  findPermissionRow,
  PERMISSION_TABLE,
  USER_SCAFFOLDER_ACTIONS,
  type Access,
  type PermissionTableRow,
} from './permissionTable';
export {
  PERMISSION_TABLE_MARKERS,
  renderPermissionTable,
} from './renderPermissionTable';
