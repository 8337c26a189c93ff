import { InputError } from '@backstage/errors';
import {
  EXECUTION_TRANSITIONS,
  ExecutionState,
} from '@internal/plugin-agents-common';
import { Request } from 'express';
import { z } from 'zod';
import { parseCpu, parseMemory } from './services/quantity';

/*
 * What the executions API accepts: the zod schemas of its bodies, queries
 * and headers, and the parser that answers 400 naming every bad field.
 */

const STATES = Object.keys(EXECUTION_TRANSITIONS) as [
  ExecutionState,
  ...ExecutionState[],
];

/** A requested CPU or memory quantity: well-formed and more than zero. */
const quantity = (parseQuantity: (value: string) => number) =>
  z
    .string()
    .min(1)
    .max(32)
    .superRefine((value, ctx) => {
      let amount: number;
      try {
        amount = parseQuantity(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return;
      }
      if (!(amount > 0)) {
        ctx.addIssue({
          code: 'custom',
          message: `"${value}" must be more than zero`,
        });
      }
    });

/** Body of `POST /executions`. */
export const createExecutionSchema = z
  .object({
    agentRef: z.string().min(1),
    input: z.record(z.string(), z.unknown()).default({}),
    version: z.string().min(1).max(64).optional(),
    plan: z.string().min(1).max(255).optional(),
    mode: z.enum(['sync', 'async']).default('async'),
    resources: z
      .object({
        cpu: quantity(parseCpu).optional(),
        memory: quantity(parseMemory).optional(),
        timeoutSeconds: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    idempotencyKey: z.string().min(1).max(255).optional(),
  })
  .strict();

export const updateSchema = z.object({
  executionId: z.string().min(1),
  attempt: z.number().int().positive(),
  state: z.enum([
    'dispatched',
    'running',
    'succeeded',
    'failed',
    'cancelled',
    'timed_out',
  ]),
  at: z.string().datetime({ offset: true }),
  exitReason: z.string().max(255).optional(),
  exitCode: z.number().int().optional(),
  message: z.string().max(10_000).optional(),
  result: z.unknown().optional(),
  computeSeconds: z.number().nonnegative().optional(),
});

export const listSchema = z.object({
  agentRef: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  state: z
    .string()
    .optional()
    .transform(s => (s ? s.split(',') : undefined))
    .pipe(z.array(z.enum(STATES)).optional()),
  limit: z.coerce.number().int().min(1).max(200).default(20),
  offset: z.coerce.number().int().min(0).default(0),
});

export const secretNameSchema = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/,
    'must be a secret name like OPENAI_API_KEY',
  );
export const secretBodySchema = z
  .object({ value: z.string().min(1).max(65_536) })
  .strict();

/** The `Idempotency-Key` header, capped like the body's idempotencyKey. */
export function idempotencyHeader(req: Request): string | undefined {
  const key = req.header('idempotency-key');
  if (key === undefined) return undefined;
  return parse(
    createExecutionSchema.shape.idempotencyKey.unwrap(),
    key,
    'Idempotency-Key header',
  );
}

/** Parses with zod, answering 400 with every problem and its field. */
export function parse<T extends z.ZodTypeAny>(
  schema: T,
  value: unknown,
  what: string,
): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map(
      i => `${i.path.length ? i.path.join('.') : what}: ${i.message}`,
    );
    throw new InputError(`Invalid ${what}: ${problems.join('; ')}`);
  }
  return result.data;
}
