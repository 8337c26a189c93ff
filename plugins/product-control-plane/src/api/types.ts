import { JsonObject } from '@backstage/types';
import { ExecutionView } from '@internal/plugin-agents-common';

/**
 * An execution as the product control plane API returns it (declared once,
 * in agents-common, for the backend and this client).
 *
 * @public
 */
export type Execution = ExecutionView;

/** One log line of a run. @public */
export interface ExecutionLogLine {
  ts?: string;
  level?: string;
  message: string;
}

/** A request to run an agent. @public */
export interface CreateExecutionRequest {
  agentRef: string;
  input: JsonObject;
  plan?: string;
  version?: string;
  mode: 'sync' | 'async';
}

/** A live event of one execution. @public */
export type ExecutionStreamEvent =
  | { type: 'state'; execution: Execution }
  | { type: 'log'; line: ExecutionLogLine };
