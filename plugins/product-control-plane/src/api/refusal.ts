import { ResponseError } from '@backstage/errors';

/** Why the server refused a request, in its own words. */
export interface Refusal {
  /** The server's message (e.g. `... holds no entitlement for ... [not-entitled]`). */
  message: string;
  /** The machine-readable code the message ends with, e.g. `not-entitled`. */
  code?: string;
  status?: number;
}

/** Codes that mean "no usable plan": the way out is acquiring one. */
const ENTITLEMENT_CODES = /^(not-entitled|expired|cancelled|plan-not-found)$/;

/**
 * The server's reason for a refusal: the `error.message` of its JSON body
 * (not the generic "Request failed with 403 Forbidden"), and the `[code]`
 * the platform's refusals end with.
 */
export function refusalOf(error: unknown): Refusal {
  const response = error instanceof ResponseError ? error : undefined;
  const message =
    response?.body?.error?.message ??
    (error instanceof Error ? error.message : String(error));
  const code = /\[([a-z0-9-]+)\]\s*$/.exec(message)?.[1];
  return {
    message,
    ...(code ? { code } : {}),
    ...(response ? { status: response.statusCode } : {}),
  };
}

/** The refusal is about the caller's plan (acquire one to go on). */
export function isEntitlementRefusal(refusal: Refusal): boolean {
  return Boolean(refusal.code && ENTITLEMENT_CODES.test(refusal.code));
}

/** The refusal is a concurrency limit (wait for a running run, or cancel one). */
export function isConcurrencyRefusal(refusal: Refusal): boolean {
  return Boolean(refusal.code?.endsWith('-concurrency'));
}
