/** The HTTP status of a client-node error, when it has one. */
export function statusCode(error: any): number | undefined {
  return error?.code ?? error?.statusCode ?? error?.response?.statusCode;
}

/** Transient: network failures, 5xx, 408, 429. */
export function isTransient(error: any): boolean {
  const code = statusCode(error);
  return (
    typeof code !== 'number' ||
    code >= 500 ||
    code === 408 ||
    code === 429 ||
    code === 0
  );
}

export const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/**
 * Exponential backoff between retries of one operation: 250 ms doubling up
 * to `maxMs`, each wait jittered (50-100 % of it) so that many runs retrying
 * after the same outage do not hit the apiserver in step.
 */
export class Backoff {
  private delay = 250;

  constructor(private readonly maxMs: number) {}

  async wait(): Promise<void> {
    await sleep(this.delay * (0.5 + Math.random() / 2));
    this.delay = Math.min(this.delay * 2, this.maxMs);
  }
}
