import { createBackendPlugin } from '@backstage/backend-plugin-api';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { catalogLocationCreatePermission } from '@backstage/plugin-catalog-common/alpha';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { PermissionPolicy } from '@backstage/plugin-permission-node';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';
import { permissionModuleAgentPlatformPolicy } from './module';

const groups: Record<string, string> = {
  'user:default/root': 'group:default/platform-admins',
  'user:default/linus': 'group:default/platform-team',
};

/** Starts the module on a stand-in permission plugin and returns the policy it installs. */
async function installedPolicy(config: object): Promise<PermissionPolicy> {
  let policy: PermissionPolicy | undefined;
  const permissionPlugin = createBackendPlugin({
    pluginId: 'permission',
    register(env) {
      env.registerExtensionPoint(policyExtensionPoint, {
        setPolicy: p => (policy = p),
      });
      env.registerInit({ deps: {}, async init() {} });
    },
  });
  await startTestBackend({
    features: [
      permissionPlugin,
      permissionModuleAgentPlatformPolicy,
      mockServices.rootConfig.factory({ data: config }),
      mockServices.userInfo.mock({
        getUserInfo: async (credentials: any) => {
          const ref = credentials.principal.userEntityRef as string;
          return {
            userEntityRef: ref,
            ownershipEntityRefs: [ref, groups[ref]],
          };
        },
      }).factory,
    ],
  });
  return policy!;
}

function userIn(group: string) {
  const ref = Object.keys(groups).find(r => groups[r] === group)!;
  return {
    credentials: mockCredentials.user(ref),
    info: { userEntityRef: ref, ownershipEntityRefs: [ref, group] },
  };
}

describe('permissionModuleAgentPlatformPolicy', () => {
  it('makes the members of agentPlatform.permission.adminGroups admins', async () => {
    const policy = await installedPolicy({
      agentPlatform: {
        permission: { adminGroups: ['group:default/platform-admins'] },
      },
    });
    expect(
      await policy.handle(
        { permission: catalogLocationCreatePermission },
        userIn('group:default/platform-admins'),
      ),
    ).toEqual({ result: AuthorizeResult.ALLOW });
    expect(
      await policy.handle(
        { permission: catalogLocationCreatePermission },
        userIn('group:default/platform-team'),
      ),
    ).toEqual({ result: AuthorizeResult.DENY });
  });

  it('has no admins without that setting', async () => {
    const policy = await installedPolicy({});
    expect(
      await policy.handle(
        { permission: catalogLocationCreatePermission },
        userIn('group:default/platform-admins'),
      ),
    ).toEqual({ result: AuthorizeResult.DENY });
  });
});
