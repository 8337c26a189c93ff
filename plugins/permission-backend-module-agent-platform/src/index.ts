/**
 * The Agent Platform permission policy module.
 *
 * @packageDocumentation
 */
export { permissionModuleAgentPlatformPolicy as default } from './module';
export {
  AgentPlatformPermissionPolicy,
  MarketplaceOverridesSource,
  type VisibilityOverridesSource,
} from './AgentPlatformPermissionPolicy';
