import { UserInfoService } from '@backstage/backend-plugin-api';
import {
  catalogConditions,
  createCatalogConditionalDecision,
} from '@backstage/plugin-catalog-backend/alpha';
import {
  AuthorizeResult,
  isResourcePermission,
  PermissionCondition,
  PermissionCriteria,
  PolicyDecision,
  ResourcePermission,
} from '@backstage/plugin-permission-common';
import {
  PermissionPolicy,
  PolicyQuery,
  PolicyQueryUser,
} from '@backstage/plugin-permission-node';
import { isAgentVisible } from '@internal/plugin-marketplace-backend';
import { VisibilityOverridesSource } from './MarketplaceOverridesSource';
import {
  Access,
  ADMIN_TEMPLATE_TAG,
  findPermissionRow,
  USER_SCAFFOLDER_ACTIONS,
} from './permissionTable';

const DENY: PolicyDecision = { result: AuthorizeResult.DENY };
const ALLOW: PolicyDecision = { result: AuthorizeResult.ALLOW };

/** A signed-in caller, as the conditions need it. */
interface Caller {
  userEntityRef: string;
  /** User ref and ownership refs, lower-case. */
  claims: string[];
}

type ConditionalAccess = Exclude<Access, 'allow' | 'deny'>;

/** The resource type each conditional access is evaluated on. */
const CONDITION_RESOURCE_TYPE: Record<ConditionalAccess, string> = {
  'visible-entities': 'catalog-entity',
  'own-entities': 'catalog-entity',
  'own-entities-or-locations': 'catalog-entity',
  'own-tasks': 'scaffolder-task',
  'user-actions': 'scaffolder-action',
  'non-admin-template-parts': 'scaffolder-template',
};

/**
 * The scaffolder's rules (`HAS_ACTION_ID`, `HAS_TAG`, `IS_TASK_OWNER` of
 * `@backstage/plugin-scaffolder-backend`), as the conditions its
 * `scaffolder*Conditions` build: this module does not depend on the
 * scaffolder backend.
 */
function scaffolderCondition(
  resourceType: string,
  rule: string,
  params: Record<string, unknown>,
): PermissionCondition<string> {
  return { rule, resourceType, params } as PermissionCondition<string>;
}

function scaffolderDecision(
  resourceType: string,
  conditions: PermissionCriteria<PermissionCondition<string>>,
): PolicyDecision {
  return {
    result: AuthorizeResult.CONDITIONAL,
    pluginId: 'scaffolder',
    resourceType,
    conditions,
  };
}

/** `group:default/x` from `x`, `group:x` or a full ref; lower-case. */
export function normalizeGroupRef(ref: string): string {
  const withKind = ref.includes(':') ? ref : `group:${ref}`;
  const [kind, rest] = withKind.split(':', 2);
  const full = rest.includes('/')
    ? `${kind}:${rest}`
    : `${kind}:default/${rest}`;
  return full.toLocaleLowerCase('en-US');
}

/** Options of {@link AgentPlatformPermissionPolicy}. @public */
export interface AgentPlatformPermissionPolicyOptions {
  userInfo: UserInfoService;
  overrides: VisibilityOverridesSource;
  /** Groups whose members are platform admins (`agentPlatform.permission.adminGroups`). */
  adminGroups: string[];
}

/**
 * The portal's permission policy, deny by default: it answers each
 * permission from its row in {@link PERMISSION_TABLE} (admins' access for
 * members of the admin groups, users' access for every other signed-in
 * user), and denies permissions without a row and callers that are not
 * signed in. Service principals never reach a policy: Backstage's
 * permissions service allows them.
 *
 * @public
 */
export class AgentPlatformPermissionPolicy implements PermissionPolicy {
  private readonly adminGroups: Set<string>;

  constructor(private readonly deps: AgentPlatformPermissionPolicyOptions) {
    this.adminGroups = new Set(deps.adminGroups.map(normalizeGroupRef));
  }

  async handle(
    request: PolicyQuery,
    user?: PolicyQueryUser,
  ): Promise<PolicyDecision> {
    const row = findPermissionRow(request.permission.name);
    if (!row || !user) return DENY;
    const info = await this.deps.userInfo.getUserInfo(user.credentials);
    const claims = [
      ...new Set(
        [info.userEntityRef, ...info.ownershipEntityRefs].map(r =>
          r.toLocaleLowerCase('en-US'),
        ),
      ),
    ];
    const isAdmin = claims.some(claim => this.adminGroups.has(claim));
    const access = isAdmin ? row.admins : row.users;
    if (access === 'allow') return ALLOW;
    if (access === 'deny') return DENY;
    const permission = request.permission;
    if (!isResourcePermission(permission, CONDITION_RESOURCE_TYPE[access]))
      return DENY;
    return this.conditional(access, permission, {
      userEntityRef: info.userEntityRef,
      claims,
    });
  }

  private async conditional(
    access: ConditionalAccess,
    permission: ResourcePermission,
    caller: Caller,
  ): Promise<PolicyDecision> {
    switch (access) {
      case 'visible-entities':
        return createCatalogConditionalDecision(
          permission as ResourcePermission<'catalog-entity'>,
          isAgentVisible({
            claims: caller.claims,
            ...(await this.deps.overrides.get()),
          }),
        );
      case 'own-entities':
        return createCatalogConditionalDecision(
          permission as ResourcePermission<'catalog-entity'>,
          catalogConditions.isEntityOwner({ claims: caller.claims }),
        );
      case 'own-entities-or-locations':
        return createCatalogConditionalDecision(
          permission as ResourcePermission<'catalog-entity'>,
          {
            anyOf: [
              catalogConditions.isEntityOwner({ claims: caller.claims }),
              catalogConditions.isEntityKind({ kinds: ['Location'] }),
            ],
          },
        );
      case 'own-tasks':
        return scaffolderDecision(
          permission.resourceType,
          scaffolderCondition(permission.resourceType, 'IS_TASK_OWNER', {
            createdBy: [caller.userEntityRef],
          }),
        );
      case 'user-actions':
        return scaffolderDecision(permission.resourceType, {
          anyOf: USER_SCAFFOLDER_ACTIONS.map(actionId =>
            scaffolderCondition(permission.resourceType, 'HAS_ACTION_ID', {
              actionId,
            }),
          ) as [PermissionCondition<string>, ...PermissionCondition<string>[]],
        });
      case 'non-admin-template-parts':
        return scaffolderDecision(permission.resourceType, {
          not: scaffolderCondition(permission.resourceType, 'HAS_TAG', {
            tag: ADMIN_TEMPLATE_TAG,
          }),
        });
      default:
        return DENY;
    }
  }
}
