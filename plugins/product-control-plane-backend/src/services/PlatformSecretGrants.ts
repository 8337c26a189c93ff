import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import { Config } from '@backstage/config';
import { NotAllowedError } from '@backstage/errors';

/** One grant of `productControlPlane.platformSecrets`. */
export interface PlatformSecretGrant {
  /** The secret's name, a key of `productControlPlane.secrets`. */
  name: string;
  /** Agents granted it, as full entity refs (`agent:default/llm-assistant`). */
  agents: string[];
  /** Groups whose agents (by `spec.owner`) are granted it. */
  ownerGroups: string[];
}

/** The agent a grant is checked for. */
export interface GrantSubject {
  agentRef: string;
  /** The agent's `spec.owner` (resolved against the agent's namespace). */
  owner: string;
}

function normalize(ref: string, defaultKind: string, namespace = 'default') {
  return stringifyEntityRef(
    parseEntityRef(ref, { defaultKind, defaultNamespace: namespace }),
  );
}

/**
 * Which agents may use which platform secret. Nothing is granted unless a
 * grant names the agent or the group that owns it.
 */
export class PlatformSecretGrants {
  static fromConfig(config: Config): PlatformSecretGrants {
    const pcp = config.getOptionalConfig('productControlPlane');
    const names = Object.keys(pcp?.getOptionalConfig('secrets')?.get() ?? {});
    const grants = (pcp?.getOptionalConfigArray('platformSecrets') ?? []).map(
      g => ({
        name: g.getString('name'),
        agents: g.getOptionalStringArray('agents') ?? [],
        ownerGroups: g.getOptionalStringArray('ownerGroups') ?? [],
      }),
    );
    return new PlatformSecretGrants(names, grants);
  }

  private readonly grants: PlatformSecretGrant[];

  constructor(
    /** Names of the configured platform secrets (never their values). */
    readonly names: string[],
    grants: PlatformSecretGrant[],
  ) {
    this.grants = grants.map(g => ({
      name: g.name,
      agents: g.agents.map(a => normalize(a, 'agent')),
      ownerGroups: g.ownerGroups.map(o => normalize(o, 'group')),
    }));
  }

  private ownerRef(subject: GrantSubject): string {
    const namespace = parseEntityRef(subject.agentRef).namespace;
    return normalize(subject.owner, 'group', namespace);
  }

  /** Whether `name` is a configured platform secret granted to this agent. */
  isGranted(name: string, subject: GrantSubject): boolean {
    if (!this.names.includes(name)) return false;
    const agentRef = normalize(subject.agentRef, 'agent');
    const ownerRef = this.ownerRef(subject);
    return this.grants.some(
      g =>
        g.name === name &&
        (g.agents.includes(agentRef) || g.ownerGroups.includes(ownerRef)),
    );
  }

  /** The platform secrets granted to this agent, sorted by name. */
  grantedTo(subject: GrantSubject): string[] {
    return this.names.filter(n => this.isGranted(n, subject)).sort();
  }

  /**
   * Throws NotAllowedError (403) when the agent asks for a platform secret
   * that is configured but not granted to it.
   */
  assertGranted(name: string, subject: GrantSubject): void {
    if (this.names.includes(name) && !this.isGranted(name, subject)) {
      throw new NotAllowedError(
        `Agent ${subject.agentRef} asks for the platform secret ${name}, which is not granted to it (productControlPlane.platformSecrets); store your own ${name} for this agent or ask a platform admin for a grant [platform-secret-not-granted]`,
      );
    }
  }
}
