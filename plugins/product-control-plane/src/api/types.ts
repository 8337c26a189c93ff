import { JsonObject, JsonValue } from '@backstage/types';
import { ExecutionState } from '@internal/plugin-agents-common';

/** An execution as the product control plane API returns it. @public */
export interface Execution {
  id: string;
  agentRef: string;
  agentVersion: string;
  userRef: string;
  holderRef: string;
  ownerRef: string;
  plan: string;
  state: ExecutionState;
  mode: 'sync' | 'async';
  attempt: number;
  retryOf?: string;
  input: JsonObject;
  resources: { cpu: string; memory: string; timeoutSeconds: number };
  tools: Array<{ name: string; allowHosts?: string[] }>;
  secrets: Array<{ name: string; source: 'platform' | 'user' }>;
  image: string;
  createdAt: string;
  updatedAt: string;
  dispatchedAt?: string;
  startedAt?: string;
  finishedAt?: string;
  cancelRequestedAt?: string;
  durationMs?: number;
  computeSeconds?: number;
  cost?: number;
  exitReason?: string;
  exitCode?: number;
  message?: string;
  result?: JsonValue;
  resultTruncated: boolean;
}

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
