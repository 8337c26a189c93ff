import { CustomErrorBase } from '@backstage/errors';

/** Why policy refused a run with 429. */
export type PolicyLimitCode =
  | 'agent-concurrency'
  | 'holder-concurrency'
  | 'user-concurrency'
  | 'daily-quota';

/**
 * A run refused because a counter is at its limit (HTTP 429). The message
 * names the limit; `code` is machine readable.
 */
export class PolicyLimitError extends CustomErrorBase {
  name = 'PolicyLimitError';
  readonly statusCode = 429;
  constructor(readonly code: PolicyLimitCode, message: string) {
    super(`${message} [${code}]`);
  }
}

/** The marketplace refused the run (HTTP 403 unless the agent is unknown). */
export class EntitlementError extends CustomErrorBase {
  name = 'EntitlementError';
  readonly statusCode: number;
  constructor(readonly code: string, message: string) {
    super(`${message} [${code}]`);
    this.statusCode = code === 'agent-not-found' ? 404 : 403;
  }
}
