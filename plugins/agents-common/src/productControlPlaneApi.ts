/*
 * Response shapes of the product control plane API that both its backend and
 * its frontend use, declared once here.
 */
import { JsonObject, JsonValue } from '@backstage/types';
import { ExecutionState, GrantedTool, ResourceEnvelope } from './contracts';

/**
 * An execution as `/api/product-control-plane/executions…` returns it: the
 * record without secret refs and internals (entitlement id, request hash,
 * code folder).
 *
 * @public
 */
export interface ExecutionView {
  id: string;
  agentRef: string;
  agentVersion: string;
  userRef: string;
  /** Who holds the entitlement the run was admitted under (user or team). */
  holderRef: string;
  /** Owner of the agent; may read the run too. */
  ownerRef: string;
  /** Name of the plan. */
  plan: string;
  state: ExecutionState;
  mode: 'sync' | 'async';
  attempt: number;
  retryOf?: string;
  idempotencyKey?: string;
  input: JsonObject;
  resources: ResourceEnvelope;
  tools: GrantedTool[];
  /** Names and origin of the granted secrets, never values. */
  secrets: Array<{ name: string; source: 'platform' | 'user' }>;
  image: string;
  entrypoint: string;
  outputSchema?: JsonObject;
  createdAt: string;
  updatedAt: string;
  dispatchedAt?: string;
  startedAt?: string;
  finishedAt?: string;
  cancelRequestedAt?: string;
  cancelRequestedBy?: string;
  durationMs?: number;
  computeSeconds?: number;
  cost?: number;
  exitReason?: string;
  exitCode?: number;
  message?: string;
  result?: JsonValue;
  resultTruncated: boolean;
}

/** A page of `GET /executions`. @public */
export interface ExecutionViewPage {
  items: ExecutionView[];
  totalCount: number;
  limit: number;
  offset: number;
}
