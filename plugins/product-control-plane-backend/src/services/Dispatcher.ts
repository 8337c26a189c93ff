import { LoggerService } from '@backstage/backend-plugin-api';
import {
  INFRA_CONTROL_PLANE_PLUGIN_ID,
  MARKETPLACE_PLUGIN_ID,
} from '@internal/plugin-agents-common';
import { ExecutionStore, OutboxItem } from '../database/ExecutionStore';
import type { ExecutionService } from './ExecutionService';
import { LayerClient } from './LayerClient';

/** Backoff after `attempts` failures: 1 s, 2 s, 4 s ... capped at 5 min. */
export function backoffMs(attempts: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.min(attempts, 20));
}

/**
 * Delivers the outbox at least once: execution plans and cancels to the infra
 * control plane, usage records to the marketplace. Receivers are idempotent,
 * so a repeat after a crash changes nothing.
 */
export class Dispatcher {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly store: ExecutionStore,
    private readonly layers: LayerClient,
    private readonly executions: () => ExecutionService,
    private readonly logger: LoggerService,
  ) {}

  /** Starts a delivery pass soon (coalesces calls while one is running). */
  trigger(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch(e => this.logger.warn('Outbox delivery pass failed', e))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.trigger();
        }
      });
  }

  /** Delivers every due row; returns when nothing due is left. */
  async drain(): Promise<void> {
    for (;;) {
      const items = await this.store.claimOutbox(20);
      if (!items.length) return;
      await Promise.all(items.map(item => this.deliver(item)));
    }
  }

  /** Waits for the current pass (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async deliver(item: OutboxItem): Promise<void> {
    try {
      const response = await this.send(item);
      if (response === 'done') {
        await this.store.markOutboxDelivered(item.id);
        return;
      }
      throw new Error(response);
    } catch (e) {
      const message = (e as Error).message;
      const next = new Date(Date.now() + backoffMs(item.attempts));
      await this.store.markOutboxFailed(item.id, message, next);
      this.logger.warn('Outbox delivery failed, will retry', {
        executionId: item.executionId,
        kind: item.kind,
        attempts: item.attempts + 1,
        error: message,
      });
    }
  }

  private async send(item: OutboxItem): Promise<'done' | string> {
    const id = encodeURIComponent(item.executionId);
    if (item.kind === 'dispatch') {
      const record = await this.store.getExecution(item.executionId);
      if (!record || record.state !== 'queued') return 'done';
      const response = await this.layers.fetch(
        INFRA_CONTROL_PLANE_PLUGIN_ID,
        '/executions',
        { body: item.payload },
      );
      if (response.ok) {
        await this.executions().markDispatched(item.executionId);
        this.logger.info('Execution dispatched', {
          executionId: item.executionId,
          agentRef: record.agentRef,
        });
        return 'done';
      }
      const text = await response.text();
      if (response.status === 400 || response.status === 422) {
        // The infra plane will never take this plan: the run is rejected.
        await this.executions().markRejected(
          item.executionId,
          `Infra control plane refused the plan: ${text.slice(0, 500)}`,
        );
        return 'done';
      }
      return `infra answered ${response.status}: ${text.slice(0, 200)}`;
    }
    if (item.kind === 'cancel') {
      const response = await this.layers.fetch(
        INFRA_CONTROL_PLANE_PLUGIN_ID,
        `/executions/${id}/cancel`,
        { method: 'POST', body: {} },
      );
      // 404: never reached the infra plane; 409: already finished there.
      if (response.ok || response.status === 404 || response.status === 409) {
        return 'done';
      }
      return `infra answered ${response.status} to cancel`;
    }
    const response = await this.layers.fetch(MARKETPLACE_PLUGIN_ID, '/usage', {
      body: item.payload,
    });
    if (response.ok || response.status === 409) return 'done';
    return `marketplace answered ${response.status} to usage`;
  }
}
