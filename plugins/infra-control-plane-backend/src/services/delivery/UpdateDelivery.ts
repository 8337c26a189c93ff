import {
  AuthService,
  DiscoveryService,
  LoggerService,
} from '@backstage/backend-plugin-api';
import {
  ExecutionUpdate,
  PRODUCT_CONTROL_PLANE_PLUGIN_ID,
} from '@internal/plugin-agents-common';
import { ExecutionStore, PendingUpdate } from '../../database/ExecutionStore';

/** Options of {@link UpdateDelivery}. @public */
export interface UpdateDeliveryOptions {
  store: ExecutionStore;
  auth: AuthService;
  discovery: DiscoveryService;
  logger: LoggerService;
  /** Sweep interval when idle (default 2000 ms). */
  intervalMs?: number;
  /** First retry delay, doubled per attempt up to maxBackoffMs (default 500 ms). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  fetchFn?: typeof fetch;
}

/**
 * Delivers ExecutionUpdates to the product control plane at least once:
 * every update is written to `infra_pending_updates` in the same transaction
 * as the state change, and removed only once the product control plane has
 * answered 2xx. Network errors, 5xx, 408 and 429 are retried with backoff;
 * other 4xx (an illegal or stale transition) are dropped with a warning,
 * since repeating them cannot succeed. Updates of one execution go in order.
 *
 * @public
 */
export class UpdateDelivery {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: UpdateDeliveryOptions) {
    this.fetchFn = options.fetchFn ?? fetch;
  }

  start() {
    this.stopped = false;
    this.schedule(0);
  }

  async stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Delivers soon (a state changed). */
  wake() {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  /** Runs one delivery pass now; resolves when it is done (for tests). */
  async deliverNow(): Promise<void> {
    while (this.running) await this.running;
    this.running = this.pass().finally(() => {
      this.running = undefined;
    });
    await this.running;
  }

  private schedule(ms: number) {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.running) {
        this.again = true;
        return;
      }
      this.running = this.pass()
        .catch(error =>
          this.options.logger.warn('Update delivery pass failed', {
            error: String(error),
          }),
        )
        .finally(() => {
          this.running = undefined;
          const again = this.again;
          this.again = false;
          this.schedule(again ? 0 : this.options.intervalMs ?? 2000);
        });
    }, ms);
    this.timer.unref?.();
  }

  private async pass(): Promise<void> {
    for (;;) {
      const due = await this.options.store.dueUpdates(Date.now(), 50);
      if (due.length === 0) return;
      let delivered = 0;
      for (const pending of due) {
        if (this.stopped) return;
        if (await this.deliver(pending)) delivered += 1;
      }
      if (delivered === 0) return;
    }
  }

  private async deliver(pending: PendingUpdate): Promise<boolean> {
    const { store, logger } = this.options;
    try {
      const status = await this.post(pending.update);
      if (status >= 200 && status < 300) {
        await store.ackUpdate(pending.id);
        return true;
      }
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        logger.warn('Product control plane refused an execution update', {
          executionId: pending.executionId,
          state: pending.update.state,
          status,
        });
        await store.ackUpdate(pending.id);
        return true;
      }
      throw new Error(`HTTP ${status}`);
    } catch (error) {
      const initial = this.options.initialBackoffMs ?? 500;
      const max = this.options.maxBackoffMs ?? 60_000;
      const delay = Math.min(
        max,
        initial * 2 ** Math.min(pending.attempts, 16),
      );
      await store.retryUpdateLater(
        pending.id,
        Date.now() + delay,
        String(error),
      );
      if (pending.attempts === 0 || pending.attempts % 10 === 0) {
        logger.warn('Execution update not delivered yet, will retry', {
          executionId: pending.executionId,
          state: pending.update.state,
          attempts: pending.attempts + 1,
          error: String(error),
        });
      }
      return false;
    }
  }

  private async post(update: ExecutionUpdate): Promise<number> {
    const { auth, discovery } = this.options;
    const baseUrl = await discovery.getBaseUrl(PRODUCT_CONTROL_PLANE_PLUGIN_ID);
    const { token } = await auth.getPluginRequestToken({
      onBehalfOf: await auth.getOwnServiceCredentials(),
      targetPluginId: PRODUCT_CONTROL_PLANE_PLUGIN_ID,
    });
    const response = await this.fetchFn(
      `${baseUrl}/internal/executions/${encodeURIComponent(
        update.executionId,
      )}/updates`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify(update),
        signal: AbortSignal.timeout(10_000),
      },
    );
    await response.text().catch(() => undefined);
    return response.status;
  }
}
