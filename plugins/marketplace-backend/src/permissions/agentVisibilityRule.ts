import { createBackendModule, coreServices } from '@backstage/backend-plugin-api';
import { Entity, RELATION_OWNED_BY, stringifyEntityRef } from '@backstage/catalog-model';
import { EntitiesSearchFilter } from '@backstage/plugin-catalog-node';
import { catalogEntityPermissionResourceRef } from '@backstage/plugin-catalog-node/alpha';
import { PermissionCriteria } from '@backstage/plugin-permission-common';
import {
  createConditionFactory,
  createPermissionRule,
} from '@backstage/plugin-permission-node';
import { z } from 'zod';
import { normalizeRef } from '../database/MarketplaceStore';

/** Parameters of {@link agentVisibilityRule}. @public */
export type AgentVisibilityParams = {
  /** The caller's user ref and ownership refs (lower-case full refs). */
  claims: string[];
  /** Agents the owner moved to private in the marketplace (override). */
  privateRefs: string[];
  /** Agents the owner moved from private to another visibility (override). */
  openRefs: string[];
};

const LISTED_VISIBILITIES = ['public', 'internal', 'preview'];

type Criteria = PermissionCriteria<EntitiesSearchFilter>;
/** Callers only pass arrays they checked to be non-empty. */
const nonEmpty = (items: Criteria[]) => items as [Criteria, ...Criteria[]];

function refFilter(ref: string): PermissionCriteria<EntitiesSearchFilter> {
  const [, rest] = ref.split(':', 2);
  const [namespace, name] = rest.split('/', 2);
  return {
    allOf: [
      { key: 'kind', values: ['agent'] },
      { key: 'metadata.namespace', values: [namespace] },
      { key: 'metadata.name', values: [name] },
    ],
  };
}

/** The ways a claim may be written in `spec.marketplace.allowedGroups`. */
function claimForms(claims: string[]): string[] {
  const forms = new Set<string>();
  for (const claim of claims) {
    forms.add(claim);
    const [kind, rest] = claim.split(':', 2);
    const [namespace, name] = (rest ?? '').split('/', 2);
    if (namespace === 'default' && name) {
      forms.add(`${kind}:${name}`);
      if (kind === 'group') forms.add(name);
    }
  }
  return [...forms];
}

/**
 * Catalog permission rule: is this entity visible to the caller under the
 * marketplace's listing rules? Non-Agent entities always are; an Agent is when
 * its effective visibility (owner override, else `spec.marketplace.visibility`)
 * is public, internal or preview, or when the caller is its owner or in one of
 * its `allowedGroups`.
 *
 * @public
 */
export const agentVisibilityRule = createPermissionRule({
  name: 'IS_AGENT_VISIBLE',
  description: 'Allow entities that are not private Agents, or private Agents the caller owns or is allowed to see',
  resourceRef: catalogEntityPermissionResourceRef,
  paramsSchema: z.object({
    claims: z.array(z.string()).describe('The caller user ref and ownership refs'),
    privateRefs: z.array(z.string()).describe('Agents overridden to private'),
    openRefs: z.array(z.string()).describe('Agents overridden away from private'),
  }),
  apply(entity: Entity, { claims, privateRefs, openRefs }) {
    if (entity.kind.toLocaleLowerCase('en-US') !== 'agent') return true;
    const ref = stringifyEntityRef(entity).toLocaleLowerCase('en-US');
    if (openRefs.includes(ref)) return true;
    const marketplace = (entity.spec as any)?.marketplace;
    const visibility = privateRefs.includes(ref) ? 'private' : marketplace?.visibility;
    if (LISTED_VISIBILITIES.includes(visibility)) return true;
    const lowerClaims = claims.map(c => c.toLocaleLowerCase('en-US'));
    const owned = (entity.relations ?? []).some(
      r => r.type === RELATION_OWNED_BY && lowerClaims.includes(r.targetRef.toLocaleLowerCase('en-US')),
    );
    const allowed = ((marketplace?.allowedGroups as string[] | undefined) ?? []).some(g =>
      lowerClaims.includes(normalizeRef(g)),
    );
    return owned || allowed;
  },
  toQuery({ claims, privateRefs, openRefs }) {
    const listed: PermissionCriteria<EntitiesSearchFilter>[] = [
      { key: 'spec.marketplace.visibility', values: LISTED_VISIBILITIES },
    ];
    if (privateRefs.length) listed.push({ not: { anyOf: nonEmpty(privateRefs.map(refFilter)) } });
    const anyOf: PermissionCriteria<EntitiesSearchFilter>[] = [
      { not: { key: 'kind', values: ['agent'] } },
      { allOf: nonEmpty(listed) },
    ];
    if (openRefs.length) anyOf.push({ anyOf: nonEmpty(openRefs.map(refFilter)) });
    const lowerClaims = claims.map(c => c.toLocaleLowerCase('en-US'));
    if (lowerClaims.length) {
      anyOf.push({ key: 'relations.ownedBy', values: lowerClaims });
      anyOf.push({ key: 'spec.marketplace.allowedGroups', values: claimForms(lowerClaims) });
    }
    return { anyOf: nonEmpty(anyOf) };
  },
});

/** Builds the condition a permission policy returns for `catalog.entity.read`. @public */
export const isAgentVisible = createConditionFactory(agentVisibilityRule);

/**
 * Catalog module registering {@link agentVisibilityRule}, so a policy can make
 * the catalog itself (entities API, and search through it) hide private agents.
 *
 * @public
 */
export const catalogModuleAgentVisibility = createBackendModule({
  pluginId: 'catalog',
  moduleId: 'agent-visibility',
  register(reg) {
    reg.registerInit({
      deps: { permissionsRegistry: coreServices.permissionsRegistry },
      async init({ permissionsRegistry }) {
        permissionsRegistry.addPermissionRules([agentVisibilityRule]);
      },
    });
  },
});
