import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import { catalogEntityReadPermission, catalogEntityDeletePermission } from '@backstage/plugin-catalog-common/alpha';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  agentExecutionCancelPermission,
  agentExecutionCreatePermission,
} from '@internal/plugin-agents-common';
import { AgentPlatformPermissionPolicy } from './AgentPlatformPermissionPolicy';

describe('AgentPlatformPermissionPolicy', () => {
  const credentials = mockCredentials.user('user:default/Grace');
  const user = {
    credentials,
    info: { userEntityRef: 'user:default/Grace', ownershipEntityRefs: ['group:default/data-team'] },
  };
  const policy = new AgentPlatformPermissionPolicy({
    userInfo: mockServices.userInfo.mock({
      getUserInfo: async () => user.info,
    }),
    overrides: { get: async () => ({ privateRefs: ['agent:default/summarizer'], openRefs: [] }) },
  });

  it('makes catalog reads conditional on Agent visibility with the caller claims and overrides', async () => {
    const decision = await policy.handle({ permission: catalogEntityReadPermission }, user);
    expect(decision).toEqual({
      result: AuthorizeResult.CONDITIONAL,
      pluginId: 'catalog',
      resourceType: 'catalog-entity',
      conditions: {
        rule: 'IS_AGENT_VISIBLE',
        resourceType: 'catalog-entity',
        params: {
          claims: ['user:default/grace', 'group:default/data-team'],
          privateRefs: ['agent:default/summarizer'],
          openRefs: [],
        },
      },
    });
    expect(await policy.handle({ permission: catalogEntityReadPermission })).toEqual({ result: AuthorizeResult.DENY });
  });

  it('allows agent runs for signed-in users only, and everything else', async () => {
    expect(await policy.handle({ permission: agentExecutionCreatePermission }, user)).toEqual({ result: AuthorizeResult.ALLOW });
    expect(await policy.handle({ permission: agentExecutionCancelPermission })).toEqual({ result: AuthorizeResult.DENY });
    expect(await policy.handle({ permission: catalogEntityDeletePermission }, user)).toEqual({ result: AuthorizeResult.ALLOW });
  });
});
