/**
 * Who may do what in the portal: one row per permission that the installed
 * plugins define, evaluated by {@link AgentPlatformPermissionPolicy} and
 * rendered into docs/permissions.md. A permission without a row is denied.
 */

/**
 * How a group of callers is answered for one permission:
 * - `allow` / `deny`: a definitive decision;
 * - the other values: a conditional decision, evaluated by the plugin that
 *   owns the resource (see {@link ACCESS_DESCRIPTIONS}).
 *
 * @public
 */
export type Access =
  | 'allow'
  | 'deny'
  | 'visible-entities'
  | 'own-entities'
  | 'own-entities-or-locations'
  | 'own-tasks'
  | 'user-actions'
  | 'non-admin-template-parts';

/** One row of {@link PERMISSION_TABLE}. @public */
export interface PermissionTableRow {
  /** The permission's name, as its plugin defines it. */
  name: string;
  /** The package that defines it. */
  definedBy: string;
  /** Set for resource permissions; conditional access needs it. */
  resourceType?: string;
  /** Members of `agentPlatform.permission.adminGroups`. */
  admins: Access;
  /** Every other signed-in user (owners get more where the access says so). */
  users: Access;
  /** Why, in a few words. */
  note: string;
}

/**
 * Scaffolder actions a signed-in user's templates may run: the steps of the
 * `new-agent` and `run-agent` templates. Every other action (among them
 * `kubernetes:job:create`, so the `build-agent-image` template) is for admins.
 *
 * @public
 */
export const USER_SCAFFOLDER_ACTIONS = [
  'fetch:template',
  'publish:local',
  'agent:run',
] as const;

/**
 * Template parameters and steps tagged with this
 * (`backstage:permissions: { tags: [agent-platform-admin] }`) are hidden from,
 * and not run for, anyone but admins.
 *
 * @public
 */
export const ADMIN_TEMPLATE_TAG = 'agent-platform-admin';

/** What each access means for owners and for other signed-in users, for the doc. @public */
export const ACCESS_DESCRIPTIONS: Record<
  Access,
  { owners: string; users: string; rule?: string }
> = {
  allow: { owners: 'yes', users: 'yes' },
  deny: { owners: 'no', users: 'no' },
  'visible-entities': {
    owners: 'yes, their private Agents too',
    users: 'every entity but private Agents they are not allowed to see',
    rule: '`IS_AGENT_VISIBLE` (marketplace) with the caller claims and visibility overrides',
  },
  'own-entities': {
    owners: 'their own entities',
    users: 'no',
    rule: '`IS_ENTITY_OWNER` (catalog) with the caller claims',
  },
  'own-entities-or-locations': {
    owners: 'their own entities and Location entities',
    users: 'Location entities only',
    rule: '`IS_ENTITY_OWNER` or `IS_ENTITY_KIND` Location (catalog); `publish:local` refreshes the generated-agents location with the scaffolder own credentials (a platform location)',
  },
  'own-tasks': {
    owners: 'the tasks they started',
    users: 'no',
    rule: '`IS_TASK_OWNER` (scaffolder) with the caller user ref',
  },
  'user-actions': {
    owners: 'as users',
    users: USER_SCAFFOLDER_ACTIONS.map(a => `\`${a}\``).join(', '),
    rule: '`HAS_ACTION_ID` (scaffolder), any of the listed actions',
  },
  'non-admin-template-parts': {
    owners: 'as users',
    users: `parameters and steps not tagged \`${ADMIN_TEMPLATE_TAG}\``,
    rule: `not \`HAS_TAG\` \`${ADMIN_TEMPLATE_TAG}\` (scaffolder)`,
  },
};

const CATALOG = '@backstage/plugin-catalog-common';
const UNPROCESSED = '@backstage/plugin-catalog-unprocessed-entities-common';
const SCAFFOLDER = '@backstage/plugin-scaffolder-common';
const TECHDOCS = '@backstage/plugin-techdocs-common';
const AGENTS = '@internal/plugin-agents-common';

/**
 * Every permission defined by the installed plugins (catalog, its
 * unprocessed-entities module, scaffolder, TechDocs' common package, and the
 * agent platform's), and who gets it. Search, notifications, signals, user
 * settings, MCP actions and proxy define none; no Kubernetes plugin is
 * installed. Unauthenticated callers are denied every row.
 *
 * @public
 */
export const PERMISSION_TABLE: readonly PermissionTableRow[] = [
  {
    name: 'catalog.entity.read',
    definedBy: CATALOG,
    resourceType: 'catalog-entity',
    admins: 'visible-entities',
    users: 'visible-entities',
    note: 'private Agents hidden from non-members, in the catalog and in search',
  },
  {
    name: 'catalog.entity.create',
    definedBy: CATALOG,
    admins: 'allow',
    users: 'deny',
    note: 'registering entities',
  },
  {
    name: 'catalog.entity.delete',
    definedBy: CATALOG,
    resourceType: 'catalog-entity',
    admins: 'allow',
    users: 'own-entities',
    note: 'a file-backed entity comes back at the next refresh',
  },
  {
    name: 'catalog.entity.refresh',
    definedBy: CATALOG,
    resourceType: 'catalog-entity',
    admins: 'allow',
    users: 'own-entities-or-locations',
    note: 're-reads the entity from its source',
  },
  {
    name: 'catalog.entity.validate',
    definedBy: CATALOG,
    admins: 'allow',
    users: 'allow',
    note: 'validates a posted entity, stores nothing',
  },
  {
    name: 'catalog.location.read',
    definedBy: CATALOG,
    admins: 'allow',
    users: 'allow',
    note: 'as before',
  },
  {
    name: 'catalog.location.create',
    definedBy: CATALOG,
    admins: 'allow',
    users: 'deny',
    note: 'registering a location',
  },
  {
    name: 'catalog.location.analyze',
    definedBy: CATALOG,
    admins: 'allow',
    users: 'deny',
    note: 'fetches a URL with the backend integrations',
  },
  {
    name: 'catalog.location.delete',
    definedBy: CATALOG,
    admins: 'allow',
    users: 'deny',
    note: 'unregistering a location',
  },
  {
    name: 'catalog.ingestion.read',
    definedBy: CATALOG,
    admins: 'allow',
    users: 'deny',
    note: 'ingestion status',
  },
  {
    name: 'catalog.ingestion.manage',
    definedBy: CATALOG,
    admins: 'allow',
    users: 'deny',
    note: 'ingestion providers and marks',
  },
  {
    name: 'catalog.entities.unprocessed.read',
    definedBy: UNPROCESSED,
    admins: 'allow',
    users: 'deny',
    note: 'raw YAML, private Agents included',
  },
  {
    name: 'catalog.entities.unprocessed.delete',
    definedBy: UNPROCESSED,
    admins: 'allow',
    users: 'deny',
    note: 'drops a refresh state',
  },
  {
    name: 'scaffolder.action.execute',
    definedBy: SCAFFOLDER,
    resourceType: 'scaffolder-action',
    admins: 'allow',
    users: 'user-actions',
    note: 'so `new-agent` and `run-agent` run for users; `kubernetes:job:create` (`build-agent-image`) is for admins',
  },
  {
    name: 'scaffolder.template.parameter.read',
    definedBy: SCAFFOLDER,
    resourceType: 'scaffolder-template',
    admins: 'allow',
    users: 'non-admin-template-parts',
    note: 'hidden parameters do not appear in the form',
  },
  {
    name: 'scaffolder.template.step.read',
    definedBy: SCAFFOLDER,
    resourceType: 'scaffolder-template',
    admins: 'allow',
    users: 'non-admin-template-parts',
    note: 'hidden steps are not run',
  },
  {
    name: 'scaffolder.template.dry-run',
    definedBy: SCAFFOLDER,
    admins: 'allow',
    users: 'deny',
    note: 'runs an inline template (template editor)',
  },
  {
    name: 'scaffolder.task.read',
    definedBy: SCAFFOLDER,
    resourceType: 'scaffolder-task',
    admins: 'allow',
    users: 'own-tasks',
    note: 'task, its logs and events',
  },
  {
    name: 'scaffolder.task.create',
    definedBy: SCAFFOLDER,
    admins: 'allow',
    users: 'allow',
    note: 'what a task may do is `scaffolder.action.execute`',
  },
  {
    name: 'scaffolder.task.cancel',
    definedBy: SCAFFOLDER,
    resourceType: 'scaffolder-task',
    admins: 'allow',
    users: 'own-tasks',
    note: 'cancelling a running task',
  },
  {
    name: 'scaffolder.template.management',
    definedBy: SCAFFOLDER,
    admins: 'allow',
    users: 'deny',
    note: 'template editor',
  },
  {
    name: 'techdocs.actions.read',
    definedBy: TECHDOCS,
    admins: 'deny',
    users: 'deny',
    note: 'no TechDocs backend in this portal',
  },
  {
    name: 'agent.execution.create',
    definedBy: AGENTS,
    resourceType: 'catalog-entity',
    admins: 'allow',
    users: 'allow',
    note: 'the product control plane checks the entitlement, plan and quota',
  },
  {
    name: 'agent.execution.read',
    definedBy: AGENTS,
    admins: 'allow',
    users: 'allow',
    note: 'the product control plane limits reads to the requester and owners',
  },
  {
    name: 'agent.execution.cancel',
    definedBy: AGENTS,
    admins: 'allow',
    users: 'allow',
    note: 'the product control plane limits cancels to the requester and owners',
  },
  {
    name: 'marketplace.listings.refresh',
    definedBy: AGENTS,
    admins: 'allow',
    users: 'deny',
    note: "the marketplace's POST /refresh (a full re-read of the catalog)",
  },
];

/** The row of a permission, or undefined (then the policy denies). @public */
export function findPermissionRow(
  name: string,
): PermissionTableRow | undefined {
  return PERMISSION_TABLE.find(row => row.name === name);
}
