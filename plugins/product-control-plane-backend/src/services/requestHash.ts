import { InputError } from '@backstage/errors';
import { jsonInputProblem } from '@internal/plugin-agents-common';
import crypto from 'node:crypto';
import type { CreateExecutionRequest } from './ExecutionService';

/**
 * What makes two requests under one idempotency key "the same request": a
 * SHA-256 of their agent, input, version, plan, resources and retry origin.
 * The input is checked first (400 when it nests too deep or holds a NUL), whatever the entry point, so
 * hashing it never overflows the stack.
 */
export function requestHash(req: CreateExecutionRequest): string {
  const problem = jsonInputProblem(req.input, 'input');
  if (problem) throw new InputError(problem);
  return crypto
    .createHash('sha256')
    .update(
      JSON.stringify([
        req.agentRef,
        req.input,
        req.version ?? null,
        req.plan ?? null,
        req.resources ?? null,
        req.retryOf ?? null,
      ]),
    )
    .digest('hex');
}
