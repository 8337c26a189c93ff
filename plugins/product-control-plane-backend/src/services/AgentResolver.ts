import { BackstageCredentials } from '@backstage/backend-plugin-api';
import {
  ANNOTATION_LOCATION,
  parseLocationRef,
  stringifyEntityRef,
} from '@backstage/catalog-model';
import { ConflictError, InputError, NotFoundError } from '@backstage/errors';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { JsonObject } from '@backstage/types';
import {
  AGENT_KIND,
  AgentEntity,
  createSchemaAjv,
} from '@internal/plugin-agents-common';
import type { ErrorObject, ValidateFunction } from 'ajv';
import path from 'node:path';
import semver from 'semver';
import { ExecutionStore } from '../database/ExecutionStore';

/** Annotation that takes an agent out of service: `"true"` refuses runs. */
export const ANNOTATION_AGENT_DISABLED = 'agentplatform.dev/disabled';

/** A concrete agent version to run. */
export interface ResolvedAgent {
  agentRef: string;
  entity: AgentEntity;
  version: string;
  /** The spec of that version (the catalog's current one or a recorded one). */
  spec: AgentEntity['spec'];
  codeDir?: string;
}

function describeInputError(e: ErrorObject): string {
  const parts = e.instancePath
    .split('/')
    .filter(Boolean)
    .map(p => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`));
  if (e.keyword === 'required') {
    parts.push(`.${(e.params as any).missingProperty}`);
    return `input${parts.join('')} is required`;
  }
  if (e.keyword === 'additionalProperties') {
    parts.push(`.${(e.params as any).additionalProperty}`);
    return `input${parts.join('')} is not a known field`;
  }
  if (e.keyword === 'enum') {
    return `input${parts.join('')} must be one of ${(
      e.params as any
    ).allowedValues
      .map((v: unknown) => JSON.stringify(v))
      .join(', ')}`;
  }
  return `input${parts.join('')} ${e.message ?? 'is invalid'}`;
}

/**
 * Finds agents in the catalog, checks they are runnable, resolves versions
 * against the versions seen so far and validates inputs against spec.input.
 */
export class AgentResolver {
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(
    private readonly catalog: CatalogService,
    private readonly store: ExecutionStore,
  ) {}

  async load(
    agentRef: string,
    credentials: BackstageCredentials,
  ): Promise<AgentEntity> {
    const entity = await this.catalog.getEntityByRef(agentRef, {
      credentials,
    });
    if (!entity) {
      throw new NotFoundError(`Agent ${agentRef} not found in the catalog`);
    }
    if (entity.kind !== AGENT_KIND) {
      throw new InputError(
        `agentRef ${agentRef} is a ${entity.kind}, not an ${AGENT_KIND}`,
      );
    }
    return entity as AgentEntity;
  }

  async resolve(
    agentRef: string,
    versionSpec: string | undefined,
    credentials: BackstageCredentials,
  ): Promise<ResolvedAgent> {
    const entity = await this.load(agentRef, credentials);
    const ref = stringifyEntityRef(entity);
    if (entity.spec.marketplace?.visibility === 'preview') {
      throw new ConflictError(
        `Agent ${ref} is in preview and cannot be run yet [not-runnable]`,
      );
    }
    if (entity.metadata.annotations?.[ANNOTATION_AGENT_DISABLED] === 'true') {
      throw new ConflictError(`Agent ${ref} is disabled [not-runnable]`);
    }
    let known = await this.store.listVersions(ref);
    const seen = known.find(k => k.version === entity.spec.version);
    if (!seen || JSON.stringify(seen.spec) !== JSON.stringify(entity.spec)) {
      await this.store.recordVersion(
        ref,
        entity.spec.version,
        entity.spec as unknown as JsonObject,
      );
      known = await this.store.listVersions(ref);
    }
    const versions = known.map(k => k.version);
    let version: string | null;
    if (versionSpec === undefined || versionSpec === 'latest') {
      version =
        semver.maxSatisfying(versions, '*') ??
        semver.maxSatisfying(versions, '*', { includePrerelease: true });
    } else if (semver.valid(versionSpec)) {
      version = versions.find(v => semver.eq(v, versionSpec)) ?? null;
    } else if (semver.validRange(versionSpec)) {
      version = semver.maxSatisfying(versions, versionSpec);
    } else {
      throw new InputError(
        `version "${versionSpec}" is neither a version nor a semver range`,
      );
    }
    if (!version) {
      throw new InputError(
        `version "${versionSpec}" matches no known version of ${ref} (known: ${versions
          .sort(semver.compare)
          .join(', ')})`,
      );
    }
    const spec =
      version === entity.spec.version
        ? entity.spec
        : (known.find(k => k.version === version)!
            .spec as unknown as AgentEntity['spec']);
    return { agentRef: ref, entity, version, spec, codeDir: codeDirOf(entity) };
  }

  /** Throws InputError naming every offending field of the input. */
  validateInput(resolved: ResolvedAgent, input: JsonObject): void {
    const key = `${resolved.agentRef}@${resolved.version}`;
    let validate = this.validators.get(key);
    if (!validate) {
      validate = createSchemaAjv().compile(resolved.spec.input);
      this.validators.set(key, validate);
    }
    if (!validate(input)) {
      const problems = (validate.errors ?? []).map(describeInputError);
      throw new InputError(`Invalid input: ${problems.join('; ')}`);
    }
  }
}

/** The folder of a `file:` catalog location: where the agent's code lives. */
export function codeDirOf(entity: AgentEntity): string | undefined {
  const location = entity.metadata.annotations?.[ANNOTATION_LOCATION];
  if (!location) return undefined;
  try {
    const { type, target } = parseLocationRef(location);
    if (type !== 'file' || !path.isAbsolute(target)) return undefined;
    return path.dirname(target);
  } catch {
    return undefined;
  }
}
