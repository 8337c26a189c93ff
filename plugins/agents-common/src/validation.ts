import { Entity, parseEntityRef } from '@backstage/catalog-model';
import Ajv, { ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import semver from 'semver';
import agentSchema from './Agent.v1alpha1.schema.json';
import {
  AGENT_API_VERSION,
  AGENT_KIND,
  AgentEntityV1alpha1,
} from './types';

/**
 * The JSON schema of the Agent kind, in the shape catalog-model uses for its
 * own kinds (`allOf: [{ $ref: 'Entity' }, ...]`).
 *
 * @public
 */
export const agentEntityV1alpha1Schema = agentSchema;

const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, strict: false });
// The envelope (metadata, name rules) is the catalog's own job; this checks
// the Agent-specific part.
const validateAgentShape = ajv.compile(agentSchema.allOf[1]);

/**
 * One problem found in an Agent entity, with the dotted path of the field.
 *
 * @public
 */
export interface AgentValidationProblem {
  path: string;
  message: string;
}

function toPath(instancePath: string, extra?: string): string {
  const parts = instancePath
    .split('/')
    .filter(Boolean)
    .map(p => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`));
  if (extra) parts.push(`.${extra}`);
  return parts.join('').replace(/^\./, '') || '<root>';
}

function describeAjvError(e: ErrorObject): AgentValidationProblem {
  switch (e.keyword) {
    case 'required':
      return {
        path: toPath(e.instancePath, (e.params as any).missingProperty),
        message: 'is required',
      };
    case 'additionalProperties':
      return {
        path: toPath(e.instancePath, (e.params as any).additionalProperty),
        message: 'is not a known field',
      };
    case 'enum':
      return {
        path: toPath(e.instancePath),
        message: `must be one of ${(e.params as any).allowedValues
          .map((v: unknown) => JSON.stringify(v))
          .join(', ')}`,
      };
    default:
      return { path: toPath(e.instancePath), message: e.message ?? 'invalid' };
  }
}

/**
 * An Ajv instance for agents' own input/output schemas: all errors, the
 * standard formats (uri, email, date-time, ...), unknown keywords tolerated.
 *
 * @public
 */
export function createSchemaAjv(): Ajv {
  const instance = new Ajv({ strict: false, allErrors: true });
  addFormats(instance);
  return instance;
}

/** Checks that a value is a usable JSON Schema for run inputs or outputs. */
function checkJsonSchema(
  value: unknown,
  path: string,
  problems: AgentValidationProblem[],
) {
  if (value === undefined) return;
  const valid = ajv.validateSchema(value as object);
  if (!valid) {
    for (const e of ajv.errors ?? []) {
      problems.push({
        path: `${path}${toPath(e.instancePath) === '<root>' ? '' : `.${toPath(e.instancePath)}`}`,
        message: `is not a valid JSON Schema: ${e.message}`,
      });
    }
    return;
  }
  try {
    createSchemaAjv().compile(value as object);
  } catch (e) {
    problems.push({
      path,
      message: `is not a valid JSON Schema: ${(e as Error).message}`,
    });
  }
}

/**
 * Lists every problem of an Agent entity: schema violations and semantic
 * checks (semver version, compilable input/output schemas, owner reference,
 * unique plan names). An empty list means the entity is valid.
 *
 * @public
 */
export function findAgentEntityProblems(
  entity: Entity,
): AgentValidationProblem[] {
  const problems: AgentValidationProblem[] = [];
  if (!validateAgentShape(entity)) {
    problems.push(...(validateAgentShape.errors ?? []).map(describeAjvError));
  }
  const spec = (entity as Partial<AgentEntityV1alpha1>).spec;
  if (!spec || typeof spec !== 'object') return problems;

  if (typeof spec.version === 'string' && !semver.valid(spec.version)) {
    problems.push({
      path: 'spec.version',
      message: `"${spec.version}" is not a semantic version (expected e.g. 1.4.0)`,
    });
  }
  if (typeof spec.owner === 'string' && spec.owner) {
    try {
      const { kind } = parseEntityRef(spec.owner, { defaultKind: 'Group' });
      if (!['group', 'user'].includes(kind.toLocaleLowerCase('en-US'))) {
        problems.push({
          path: 'spec.owner',
          message: `must refer to a Group or User, not a ${kind}`,
        });
      }
    } catch (e) {
      problems.push({
        path: 'spec.owner',
        message: `is not a valid entity reference: ${(e as Error).message}`,
      });
    }
  }
  if (spec.input && typeof spec.input === 'object') {
    checkJsonSchema(spec.input, 'spec.input', problems);
  }
  if (spec.output && typeof spec.output === 'object') {
    checkJsonSchema(spec.output, 'spec.output', problems);
  }
  const plans = spec.marketplace?.plans;
  if (Array.isArray(plans)) {
    const seen = new Set<string>();
    plans.forEach((plan, i) => {
      if (plan && typeof plan.name === 'string') {
        if (seen.has(plan.name)) {
          problems.push({
            path: `spec.marketplace.plans[${i}].name`,
            message: `duplicates plan "${plan.name}"`,
          });
        }
        seen.add(plan.name);
      }
      if (
        plan &&
        plan.pricing &&
        plan.pricing !== 'free' &&
        typeof plan.price !== 'number'
      ) {
        problems.push({
          path: `spec.marketplace.plans[${i}].price`,
          message: `is required for ${plan.pricing} pricing`,
        });
      }
    });
  }
  return problems;
}

/**
 * Type guard: is this entity of the Agent kind (any known version)?
 *
 * @public
 */
export function isAgentEntity(entity: Entity): entity is AgentEntityV1alpha1 {
  return (
    entity.kind?.toLocaleLowerCase('en-US') === AGENT_KIND.toLowerCase() &&
    entity.apiVersion === AGENT_API_VERSION
  );
}

/**
 * Validates an Agent entity and returns it typed, or throws a TypeError whose
 * message names every invalid field.
 *
 * @public
 */
export function validateAgentEntity(entity: Entity): AgentEntityV1alpha1 {
  const problems = findAgentEntityProblems(entity);
  if (problems.length) {
    const name = entity.metadata?.name ?? '<unnamed>';
    throw new TypeError(
      `Invalid Agent "${name}": ${problems
        .map(p => `${p.path} ${p.message}`)
        .join('; ')}`,
    );
  }
  return entity as AgentEntityV1alpha1;
}
