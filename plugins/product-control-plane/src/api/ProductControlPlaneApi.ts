import { createApiRef } from '@backstage/core-plugin-api';
import { ExecutionState } from '@internal/plugin-agents-common';
import {
  CreateExecutionRequest,
  Execution,
  ExecutionLogLine,
  ExecutionStreamEvent,
} from './types';

/** Client of the product control plane's executions API. @public */
export interface ProductControlPlaneApi {
  createExecution(request: CreateExecutionRequest): Promise<Execution>;
  getExecution(id: string): Promise<Execution>;
  listExecutions(filter: {
    agentRef?: string;
    user?: string;
    state?: ExecutionState[];
    limit?: number;
    offset?: number;
  }): Promise<{ items: Execution[]; totalCount: number }>;
  cancelExecution(id: string): Promise<Execution>;
  retryExecution(id: string): Promise<Execution>;
  getLogs(id: string): Promise<ExecutionLogLine[]>;
  /** Streams state changes and log lines until `signal` aborts or the stream ends. */
  streamEvents(
    id: string,
    onEvent: (event: ExecutionStreamEvent) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

/** @public */
export const productControlPlaneApiRef = createApiRef<ProductControlPlaneApi>({
  id: 'plugin.product-control-plane.api',
});
