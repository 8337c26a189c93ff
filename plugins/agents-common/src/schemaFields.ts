import { JsonSchema } from './types';

/**
 * One field of an object JSON Schema, flattened for display.
 *
 * @public
 */
export interface SchemaField {
  /** Dotted path, e.g. `options.depth`. */
  path: string;
  title?: string;
  type: string;
  required: boolean;
  description?: string;
  /** Human-readable constraints: enum values, bounds, default. */
  constraints: string[];
}

function typeOf(schema: JsonSchema): string {
  if (Array.isArray(schema.type)) return (schema.type as string[]).join(' | ');
  if (typeof schema.type === 'string') {
    if (schema.type === 'array' && schema.items && typeof schema.items === 'object') {
      return `array of ${typeOf(schema.items as JsonSchema)}`;
    }
    return schema.type;
  }
  if (schema.enum) return 'enum';
  return 'any';
}

function constraintsOf(schema: JsonSchema): string[] {
  const c: string[] = [];
  const show = (v: unknown) => JSON.stringify(v);
  if (Array.isArray(schema.enum)) c.push(`one of ${schema.enum.map(show).join(', ')}`);
  if (schema.minimum !== undefined) c.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined) c.push(`≤ ${schema.maximum}`);
  if (schema.minLength !== undefined) c.push(`min length ${schema.minLength}`);
  if (schema.maxLength !== undefined) c.push(`max length ${schema.maxLength}`);
  if (schema.pattern !== undefined) c.push(`matches ${schema.pattern}`);
  if (schema.format !== undefined) c.push(`format ${schema.format}`);
  if (schema.default !== undefined) c.push(`default ${show(schema.default)}`);
  return c;
}

/**
 * Flattens the properties of an object JSON Schema (nested objects included)
 * into rows, so an agent's input or output can be shown as a table.
 *
 * @public
 */
export function listSchemaFields(schema: JsonSchema, prefix = ''): SchemaField[] {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(properties).flatMap(([name, prop]) => {
    const path = prefix ? `${prefix}.${name}` : name;
    const row: SchemaField = {
      path,
      title: prop.title as string | undefined,
      type: typeOf(prop),
      required: required.has(name),
      description: prop.description as string | undefined,
      constraints: constraintsOf(prop),
    };
    return prop.type === 'object' && prop.properties
      ? [row, ...listSchemaFields(prop, path)]
      : [row];
  });
}
