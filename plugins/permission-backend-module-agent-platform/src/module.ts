import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';
import { AgentPlatformPermissionPolicy } from './AgentPlatformPermissionPolicy';
import { MarketplaceOverridesSource } from './MarketplaceOverridesSource';

/**
 * Installs {@link AgentPlatformPermissionPolicy} as the permission backend's policy.
 *
 * @public
 */
export const permissionModuleAgentPlatformPolicy = createBackendModule({
  pluginId: 'permission',
  moduleId: 'agent-platform-policy',
  register(reg) {
    reg.registerInit({
      deps: {
        policy: policyExtensionPoint,
        config: coreServices.rootConfig,
        discovery: coreServices.discovery,
        auth: coreServices.auth,
        logger: coreServices.logger,
        userInfo: coreServices.userInfo,
      },
      async init({ policy, config, discovery, auth, logger, userInfo }) {
        const cacheSeconds =
          config.getOptionalNumber(
            'agentPlatform.permission.overridesCacheSeconds',
          ) ?? 5;
        const adminGroups =
          config.getOptionalStringArray(
            'agentPlatform.permission.adminGroups',
          ) ?? [];
        logger.info('Agent platform permission policy: deny by default', {
          adminGroups,
        });
        policy.setPolicy(
          new AgentPlatformPermissionPolicy({
            userInfo,
            adminGroups,
            overrides: new MarketplaceOverridesSource({
              discovery,
              auth,
              logger,
              cacheMillis: cacheSeconds * 1000,
            }),
          }),
        );
      },
    });
  },
});
