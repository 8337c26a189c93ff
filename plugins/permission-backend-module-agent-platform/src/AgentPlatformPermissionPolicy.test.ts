import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import { permissionRules } from '@backstage/plugin-catalog-backend/alpha';
import {
  AuthorizeResult,
  createPermission,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import {
  createConditionAuthorizer,
  makeCreatePermissionRule,
  PermissionRule,
  ServerPermissionClient,
} from '@backstage/plugin-permission-node';
import { agentVisibilityRule } from '@internal/plugin-marketplace-backend';
import { AgentPlatformPermissionPolicy } from './AgentPlatformPermissionPolicy';
import { PERMISSION_TABLE } from './permissionTable';

// The callers: an admin (in the configured admin group), the owner of the
// data team's agent and of a task, a user of another team, and guest (who is
// in platform-team, which is not an admin group).
const groups: Record<string, string[]> = {
  'user:default/root': ['group:default/platform-admins'],
  'user:default/grace': ['group:default/data-team'],
  'user:default/ada': ['group:default/ml-team'],
  'user:default/guest': ['group:default/platform-team'],
};
const callers = {
  admin: 'user:default/root',
  owner: 'user:default/grace',
  other: 'user:default/ada',
  guest: 'user:default/guest',
} as const;
type CallerName = keyof typeof callers | 'unauthenticated';

const userInfo = mockServices.userInfo.mock({
  getUserInfo: async (credentials: any) => {
    const ref = credentials.principal.userEntityRef as string;
    return {
      userEntityRef: ref,
      ownershipEntityRefs: [ref, ...(groups[ref] ?? [])],
    };
  },
});
const policy = new AgentPlatformPermissionPolicy({
  userInfo,
  overrides: { get: async () => ({ privateRefs: [], openRefs: [] }) },
  adminGroups: ['platform-admins'],
});

function userOf(name: CallerName) {
  if (name === 'unauthenticated') return undefined;
  const ref = callers[name];
  return {
    credentials: mockCredentials.user(ref),
    info: { userEntityRef: ref, ownershipEntityRefs: [ref, ...groups[ref]] },
  };
}

// Resources the conditional decisions are applied to, with the rules of the
// plugins that own them.
const dataTeamAgent = {
  apiVersion: 'agentplatform.dev/v1alpha1',
  kind: 'Agent',
  metadata: { name: 'data-profiler', namespace: 'default' },
  spec: { owner: 'group:data-team', marketplace: { visibility: 'private' } },
  relations: [{ type: 'ownedBy', targetRef: 'group:default/data-team' }],
};
const generatedLocation = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Location',
  metadata: { name: 'generated-agents', namespace: 'default' },
  spec: { type: 'file', target: '/data/agents/*/catalog-info.yaml' },
};

// The scaffolder's rules as @backstage/plugin-scaffolder-backend defines them
// (service/rules: HAS_ACTION_ID, HAS_TAG, IS_TASK_OWNER).
const createActionRule = makeCreatePermissionRule<
  { action: string },
  {},
  'scaffolder-action'
>();
const createTemplateRule = makeCreatePermissionRule<
  { 'backstage:permissions'?: { tags?: string[] } },
  {},
  'scaffolder-template'
>();
const createTaskRule = makeCreatePermissionRule<
  { createdBy?: string },
  {},
  'scaffolder-task'
>();
const scaffolderRules: PermissionRule<any, any, string, any>[] = [
  createActionRule({
    name: 'HAS_ACTION_ID',
    description: '',
    resourceType: 'scaffolder-action',
    apply: (resource, { actionId }: { actionId: string }) =>
      resource.action === actionId,
    toQuery: () => ({}),
  }),
  createTemplateRule({
    name: 'HAS_TAG',
    description: '',
    resourceType: 'scaffolder-template',
    apply: (resource, { tag }: { tag: string }) =>
      resource['backstage:permissions']?.tags?.includes(tag) ?? false,
    toQuery: () => ({}),
  }),
  createTaskRule({
    name: 'IS_TASK_OWNER',
    description: '',
    resourceType: 'scaffolder-task',
    apply: (resource, { createdBy }: { createdBy: string[] }) =>
      !!resource.createdBy && createdBy.includes(resource.createdBy),
    toQuery: () => ({}),
  }),
];
const authorizers: Record<string, (d: PolicyDecision, r: unknown) => boolean> =
  {
    'catalog-entity': createConditionAuthorizer([
      ...Object.values(permissionRules),
      agentVisibilityRule,
    ] as any) as any,
    scaffolder: createConditionAuthorizer(scaffolderRules) as any,
  };
const probes: Record<string, Record<string, unknown>> = {
  'catalog-entity': { agent: dataTeamAgent, location: generatedLocation },
  'scaffolder-task': { task: { createdBy: 'user:default/grace' } },
  'scaffolder-action': {
    'kubernetes:job:create': { action: 'kubernetes:job:create' },
    'publish:local': { action: 'publish:local' },
    'agent:run': { action: 'agent:run' },
  },
  'scaffolder-template': {
    adminStep: {
      action: 'debug:log',
      'backstage:permissions': { tags: ['agent-platform-admin'] },
    },
    step: { action: 'publish:local' },
  },
};

function permissionOf(name: string) {
  const row = PERMISSION_TABLE.find(r => r.name === name)!;
  return row.resourceType
    ? createPermission({ name, attributes: {}, resourceType: row.resourceType })
    : createPermission({ name, attributes: {} });
}

/** ALLOW or DENY, or, when it depends on the resource, `probe=ALLOW|DENY` for each probe. */
async function outcome(name: string, caller: CallerName): Promise<string> {
  const permission = permissionOf(name);
  const decision = await policy.handle({ permission }, userOf(caller));
  if (decision.result !== AuthorizeResult.CONDITIONAL) return decision.result;
  expect(decision.resourceType).toBe((permission as any).resourceType);
  const authorize =
    authorizers[
      decision.pluginId === 'catalog' ? 'catalog-entity' : decision.pluginId
    ];
  const results = Object.entries(probes[decision.resourceType]).map(
    ([probe, resource]) =>
      `${probe}=${authorize(decision, resource) ? 'ALLOW' : 'DENY'}`,
  );
  if (results.every(r => r.endsWith('=ALLOW'))) return 'ALLOW';
  if (results.every(r => r.endsWith('=DENY'))) return 'DENY';
  return results.join(' ');
}

const A = 'ALLOW';
const D = 'DENY';
const visible = 'agent=DENY location=ALLOW';
const userActions =
  'kubernetes:job:create=DENY publish:local=ALLOW agent:run=ALLOW';
const untagged = 'adminStep=DENY step=ALLOW';
//                                            admin    owner                  other        guest        unauthenticated
const expected: Record<string, [string, string, string, string, string]> = {
  'catalog.entity.read': [visible, A, visible, visible, D],
  'catalog.entity.create': [A, D, D, D, D],
  'catalog.entity.delete': [A, 'agent=ALLOW location=DENY', D, D, D],
  'catalog.entity.refresh': [A, A, visible, visible, D],
  'catalog.entity.validate': [A, A, A, A, D],
  'catalog.location.read': [A, A, A, A, D],
  'catalog.location.create': [A, D, D, D, D],
  'catalog.location.analyze': [A, D, D, D, D],
  'catalog.location.delete': [A, D, D, D, D],
  'catalog.ingestion.read': [A, D, D, D, D],
  'catalog.ingestion.manage': [A, D, D, D, D],
  'catalog.entities.unprocessed.read': [A, D, D, D, D],
  'catalog.entities.unprocessed.delete': [A, D, D, D, D],
  'scaffolder.action.execute': [A, userActions, userActions, userActions, D],
  'scaffolder.template.parameter.read': [A, untagged, untagged, untagged, D],
  'scaffolder.template.step.read': [A, untagged, untagged, untagged, D],
  'scaffolder.template.dry-run': [A, D, D, D, D],
  'scaffolder.task.read': [A, A, D, D, D],
  'scaffolder.task.create': [A, A, A, A, D],
  'scaffolder.task.cancel': [A, A, D, D, D],
  'scaffolder.template.management': [A, D, D, D, D],
  'techdocs.actions.read': [D, D, D, D, D],
  'agent.execution.create': [A, A, A, A, D],
  'agent.execution.read': [A, A, A, A, D],
  'agent.execution.cancel': [A, A, A, A, D],
  'marketplace.listings.refresh': [A, D, D, D, D],
};
const columns: CallerName[] = [
  'admin',
  'owner',
  'other',
  'guest',
  'unauthenticated',
];

describe('AgentPlatformPermissionPolicy: the permission matrix', () => {
  it('has an expectation for every row of the table', () => {
    expect(Object.keys(expected).sort()).toEqual(
      PERMISSION_TABLE.map(r => r.name).sort(),
    );
  });

  it.each(Object.entries(expected))('%s', async (name, row) => {
    const actual = await Promise.all(
      columns.map(caller => outcome(name, caller)),
    );
    expect(Object.fromEntries(columns.map((c, i) => [c, actual[i]]))).toEqual(
      Object.fromEntries(columns.map((c, i) => [c, row[i]])),
    );
  });

  it('lets a plugin service token through without asking the policy, as Backstage does for service principals', async () => {
    const discovery = mockServices.discovery.mock({
      getBaseUrl: async () => {
        throw new Error('the permission backend was asked');
      },
    });
    const permissions = ServerPermissionClient.fromConfig(
      mockServices.rootConfig({ data: { permission: { enabled: true } } }),
      { auth: mockServices.auth(), discovery },
    );
    const decisions = await permissions.authorize(
      PERMISSION_TABLE.filter(r => !r.resourceType).map(r => ({
        permission: permissionOf(r.name) as any,
      })),
      { credentials: mockCredentials.service('plugin:catalog') },
    );
    expect(decisions.every(d => d.result === AuthorizeResult.ALLOW)).toBe(true);
  });
});

describe('AgentPlatformPermissionPolicy: deny by default', () => {
  it('denies a permission that has no row, to admins too', async () => {
    const unknown = createPermission({
      name: 'kubernetes.proxy',
      attributes: {},
    });
    expect(
      await policy.handle({ permission: unknown }, userOf('admin')),
    ).toEqual({ result: D });
    expect(
      await policy.handle({ permission: unknown }, userOf('other')),
    ).toEqual({ result: D });
  });

  it('denies a conditional row asked as a basic permission (no resource type to condition on)', async () => {
    const basicDelete = createPermission({
      name: 'catalog.entity.delete',
      attributes: { action: 'delete' },
    });
    expect(
      await policy.handle({ permission: basicDelete }, userOf('owner')),
    ).toEqual({ result: D });
  });

  it('has no admins unless configured: guest in platform-team gets the users column', async () => {
    const noAdmins = new AgentPlatformPermissionPolicy({
      userInfo,
      overrides: { get: async () => ({ privateRefs: [], openRefs: [] }) },
      adminGroups: [],
    });
    const create = permissionOf('catalog.location.create');
    expect(
      await noAdmins.handle({ permission: create }, userOf('admin')),
    ).toEqual({ result: D });
    expect(
      await noAdmins.handle({ permission: create }, userOf('guest')),
    ).toEqual({ result: D });
  });

  it('makes catalog reads conditional on Agent visibility with the caller claims and overrides', async () => {
    const withOverrides = new AgentPlatformPermissionPolicy({
      userInfo,
      overrides: {
        get: async () => ({
          privateRefs: ['agent:default/summarizer'],
          openRefs: [],
        }),
      },
      adminGroups: [],
    });
    const decision = await withOverrides.handle(
      { permission: permissionOf('catalog.entity.read') },
      userOf('owner'),
    );
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
  });
});

describe('AgentPlatformPermissionPolicy: the attacks of issue 11 are denied', () => {
  it('guest registers a catalog location', async () => {
    expect(await outcome('catalog.location.create', 'guest')).toBe(D);
    expect(await outcome('catalog.entity.create', 'guest')).toBe(D);
  });

  it('a user outside the data team deletes the data team agent', async () => {
    const decision = await policy.handle(
      { permission: permissionOf('catalog.entity.delete') },
      userOf('other'),
    );
    expect(authorizers['catalog-entity'](decision, dataTeamAgent)).toBe(false);
  });

  it('a user runs kubernetes:job:create', async () => {
    const decision = await policy.handle(
      { permission: permissionOf('scaffolder.action.execute') },
      userOf('other'),
    );
    expect(
      authorizers.scaffolder(decision, {
        action: 'kubernetes:job:create',
        input: { name: 'x' },
      }),
    ).toBe(false);
  });

  it('a user runs publish:local (or any action) from an inline template of their own', async () => {
    // A template runs from the catalog, which only admins add to, or inline as a dry run.
    expect(await outcome('scaffolder.template.dry-run', 'other')).toBe(D);
    expect(await outcome('catalog.location.create', 'other')).toBe(D);
  });

  it('a user reads unprocessed entities (raw YAML, private agents included)', async () => {
    expect(await outcome('catalog.entities.unprocessed.read', 'other')).toBe(D);
    expect(await outcome('catalog.entities.unprocessed.read', 'guest')).toBe(D);
  });
});
