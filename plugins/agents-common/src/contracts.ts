/*
 * The contracts between the four layers. Each layer is a separate plugin and
 * talks to the next one over HTTP (service-to-service auth through Backstage's
 * auth + discovery services), so these types are the whole interface between
 * them. See docs/architecture.md for the flow and the reasons.
 */
import { JsonObject, JsonValue } from '@backstage/types';
import { AgentPlan, AgentTool } from './types';

/** Backstage plugin ids of the layers (the `/api/<id>` prefix). @public */
export const MARKETPLACE_PLUGIN_ID = 'marketplace';
/** @public */
export const PRODUCT_CONTROL_PLANE_PLUGIN_ID = 'product-control-plane';
/** @public */
export const INFRA_CONTROL_PLANE_PLUGIN_ID = 'infra-control-plane';

// ---------------------------------------------------------------------------
// Marketplace -> product control plane
// ---------------------------------------------------------------------------

/**
 * `POST /api/marketplace/entitlements/check` (service auth only): may this
 * principal run this agent now, under which plan and limits?
 *
 * @public
 */
export interface EntitlementCheckRequest {
  /** e.g. `agent:default/summarizer` */
  agentRef: string;
  /** e.g. `user:default/ada` */
  userRef: string;
  /** The user's ownership refs (user + groups), for team plans and private listings. */
  ownershipRefs: string[];
  /** Ask for a specific plan; otherwise the best active entitlement is used. */
  plan?: string;
}

/** Why the marketplace refused. @public */
export type EntitlementDenialCode =
  | 'agent-not-found'
  | 'not-visible'
  | 'not-entitled'
  | 'plan-not-found'
  | 'expired'
  | 'cancelled'
  | 'not-runnable';

/** @public */
export type EntitlementCheckResponse =
  | {
      allowed: true;
      entitlementId: string;
      /** The principal holding the entitlement (the user or one of its groups). */
      holderRef: string;
      plan: AgentPlan;
    }
  | { allowed: false; code: EntitlementDenialCode; reason: string };

/**
 * `POST /api/marketplace/usage` (service auth only): one record per finished
 * execution, idempotent by `executionId`.
 *
 * @public
 */
export interface UsageRecord {
  executionId: string;
  agentRef: string;
  userRef: string;
  /** The principal whose entitlement paid for it (user or group). */
  holderRef: string;
  plan: string;
  state: TerminalExecutionState;
  startedAt?: string;
  finishedAt: string;
  computeSeconds: number;
  /** In the configured currency. */
  cost: number;
}

// ---------------------------------------------------------------------------
// Product control plane <-> infra control plane
// ---------------------------------------------------------------------------

/** The states of an execution record. @public */
export type ExecutionState =
  | 'queued'
  | 'dispatched'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'timed_out'
  | 'rejected';

/** @public */
export type TerminalExecutionState = Extract<
  ExecutionState,
  'succeeded' | 'failed' | 'cancelled' | 'timed_out' | 'rejected'
>;

/** @public */
export const TERMINAL_EXECUTION_STATES: readonly TerminalExecutionState[] = [
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
  'rejected',
];

/** Legal transitions of the execution state machine. @public */
export const EXECUTION_TRANSITIONS: Readonly<
  Record<ExecutionState, readonly ExecutionState[]>
> = {
  queued: [
    'dispatched',
    'running',
    'cancelled',
    'rejected',
    'failed',
    'timed_out',
  ],
  dispatched: ['running', 'succeeded', 'failed', 'cancelled', 'timed_out'],
  running: ['succeeded', 'failed', 'cancelled', 'timed_out'],
  succeeded: [],
  failed: [],
  cancelled: [],
  timed_out: [],
  rejected: [],
};

/** @public */
export function isTerminalExecutionState(
  state: ExecutionState,
): state is TerminalExecutionState {
  return (TERMINAL_EXECUTION_STATES as readonly string[]).includes(state);
}

/** A granted tool and how it is configured for this run. @public */
export interface GrantedTool {
  name: AgentTool;
  /** For `http`: hosts the agent may call (exact host or `*.suffix`). */
  allowHosts?: string[];
}

/**
 * A secret the run may see: never the value, only where to find it.
 * `platform` secrets come from the portal's config; `user` secrets were
 * brought by the caller and are stored by the product control plane.
 *
 * @public
 */
export interface SecretReference {
  /** The name the agent asks for, e.g. `OPENAI_API_KEY`. */
  name: string;
  source: 'platform' | 'user';
  /** Opaque id of the stored value (a Kubernetes Secret name/key for clusters). */
  ref: string;
}

/** The resource envelope granted to one run. @public */
export interface ResourceEnvelope {
  cpu: string;
  memory: string;
  timeoutSeconds: number;
}

/**
 * What the product control plane asks the infra control plane to run:
 * `POST /api/infra-control-plane/executions` (service auth only). Receipt is
 * idempotent by `executionId` + `attempt`.
 *
 * @public
 */
export interface ExecutionPlan {
  executionId: string;
  /** 1 for the first try; retries of a failed run are new executions. */
  attempt: number;
  agentRef: string;
  agentVersion: string;
  image: string;
  /** Relative to the agent's code directory / image work dir. */
  entrypoint: string;
  /**
   * Where the agent's code lives for the local executor (an absolute folder,
   * derived from the entity's source location). Kubernetes uses `image`.
   */
  codeDir?: string;
  input: JsonObject;
  outputSchema?: JsonObject;
  tools: GrantedTool[];
  secrets: SecretReference[];
  resources: ResourceEnvelope;
  requestedBy: string;
  plan: string;
}

/**
 * What the infra control plane reports back:
 * `POST /api/product-control-plane/internal/executions/:id/updates`
 * (service auth only). Delivered at least once; the product control plane
 * ignores repeats and refuses illegal transitions.
 *
 * @public
 */
export interface ExecutionUpdate {
  executionId: string;
  attempt: number;
  state: Exclude<ExecutionState, 'queued' | 'rejected'>;
  at: string;
  /** Short machine-readable reason for terminal states, e.g. `agent-error`, `deadline-exceeded`, `cancelled-by-user`. */
  exitReason?: string;
  exitCode?: number;
  /** Human readable detail (error message). Never contains secret values. */
  message?: string;
  result?: JsonValue;
  computeSeconds?: number;
}

/**
 * `GET /api/product-control-plane/internal/executions/:id/secrets` (service
 * auth, answered only to the infra control plane and only while the run is
 * unfinished): the values of the run's granted secrets, for the local
 * executor's private secrets folder. `platform` refs are the secret's name.
 *
 * @public
 */
export interface ExecutionSecretsResponse {
  secrets: Array<{ name: string; value: string }>;
}

// ---------------------------------------------------------------------------
// Infra control plane <- agent runtime (the wire format)
// ---------------------------------------------------------------------------

/** Every line the runtime writes to stdout is one JSON event with this tag. @public */
export const RUNTIME_EVENT_TAG = 'agentplatform.runtime/v1';

/** @public */
export type RuntimeEvent =
  | {
      type: 'started';
      ts: string;
      agent: string;
      version?: string;
      tools: string[];
    }
  | { type: 'heartbeat'; ts: string }
  | { type: 'progress'; ts: string; percent: number; message?: string }
  | {
      type: 'log';
      ts: string;
      level: 'debug' | 'info' | 'warn' | 'error';
      message: string;
    }
  | { type: 'tool-denied'; ts: string; tool: string; message: string }
  | { type: 'result'; ts: string; result: JsonValue }
  | { type: 'error'; ts: string; code: RuntimeErrorCode; message: string };

/** @public */
export type RuntimeErrorCode =
  | 'agent-error'
  | 'invalid-input'
  | 'invalid-output'
  | 'result-too-large'
  | 'timeout'
  | 'load-error'
  | 'secret-missing'
  | 'tool-denied';

/** Exit codes of the runtime process, one per way a run can end. @public */
export const RUNTIME_EXIT_CODES = {
  success: 0,
  'agent-error': 1,
  'invalid-input': 2,
  'invalid-output': 3,
  'result-too-large': 4,
  'load-error': 5,
  'secret-missing': 6,
  'tool-denied': 7,
  timeout: 124,
} as const;

/**
 * Registries (or registry path prefixes) agent images may come from unless
 * `productControlPlane.images.allowedRegistries` says otherwise: checked at
 * admission by the product control plane and again by the runs namespace's
 * admission policies (k8s/15-runs-admission.yaml). The registry the example
 * agents and the New agent template use.
 *
 * @public
 */
export const DEFAULT_ALLOWED_REGISTRIES: readonly string[] = [
  'registry.example.com',
];
