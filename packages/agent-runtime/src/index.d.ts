/**
 * Types of the Agent Platform runtime and SDK (the code is plain CommonJS so
 * that the base image runs it with `node`, no build step).
 *
 * @packageDocumentation
 */

/** Any JSON value. @public */
export type AgentJson =
  | null
  | boolean
  | number
  | string
  | AgentJson[]
  | { [key: string]: AgentJson };

/** Tools an agent can be granted. @public */
export type AgentToolName = 'http' | 'llm' | 'catalog';

/** The `http` tool: `fetch` limited to the run's host allow-list. @public */
export interface HttpTool {
  readonly allowHosts: readonly string[];
  fetch(
    input: string | URL | { url: string },
    init?: RequestInit,
  ): Promise<Response>;
  getJson<T = AgentJson>(url: string, init?: RequestInit): Promise<T>;
}

/** One chat message for the `llm` tool. @public */
export interface LlmMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A request to the `llm` tool (OpenAI-compatible `/chat/completions`). @public */
export interface LlmRequest {
  messages: LlmMessage[];
  model?: string;
  temperature?: number;
  maxTokens?: number;
  /** Defaults to the `LLM_API_KEY` or `OPENAI_API_KEY` secret when granted. */
  apiKey?: string;
  [extra: string]: unknown;
}

/** The `llm` tool. @public */
export interface LlmTool {
  readonly model?: string;
  chat(request: LlmRequest): Promise<any>;
  complete(request: LlmRequest): Promise<string>;
}

/** A catalog entity as the catalog API returns it. @public */
export interface CatalogEntity {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: any };
  spec?: { [key: string]: any };
  [key: string]: any;
}

/** The `catalog` tool: read access to the portal's catalog with the run's token. @public */
export interface CatalogTool {
  getEntities(request?: {
    filter?:
      | Record<string, string | string[] | true>
      | Array<Record<string, string | string[] | true>>;
    fields?: string[];
    limit?: number;
  }): Promise<CatalogEntity[]>;
  getEntityByRef(ref: string): Promise<CatalogEntity | undefined>;
}

/** All tools; at run time only the granted ones exist. @public */
export interface AgentTools {
  http: HttpTool;
  llm: LlmTool;
  catalog: CatalogTool;
}

/** `ctx.log(...)` logs at info; `.debug/.info/.warn/.error` pick the level. @public */
export interface AgentLogger {
  (...args: unknown[]): void;
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** The secrets granted to this run. @public */
export interface AgentSecrets {
  /** The value, or undefined when the secret was not provided. */
  get(name: string): string | undefined;
  has(name: string): boolean;
  /** The value, or throws `secret not provided: NAME`. */
  require(name: string): string;
  names(): string[];
}

/** What a handler receives next to its input. @public */
export interface AgentContext<TTools extends AgentToolName = AgentToolName> {
  readonly executionId?: string;
  readonly agent: { ref?: string; version?: string };
  readonly input: unknown;
  readonly secrets: AgentSecrets;
  /** Only the granted tools; touching another throws a ToolDeniedError. */
  readonly tools: Pick<AgentTools, TTools>;
  /** Aborted on timeout or SIGTERM. */
  readonly signal: AbortSignal;
  readonly log: AgentLogger;
  /** Reports progress, 0..100. */
  progress(percent: number, message?: string): void;
}

/** An agent definition for `defineAgent`. @public */
export interface AgentDefinition<
  TInput = any,
  TOutput = AgentJson,
  TTools extends AgentToolName = AgentToolName,
> {
  /** JSON Schema of the input (documentation; the platform validates from the entity). */
  input?: object;
  /** JSON Schema of the output. */
  output?: object;
  tools?: TTools[];
  /** Secrets that must be present; the run fails with `secret-missing` before the handler otherwise. */
  secrets?: string[];
  handler(input: TInput, ctx: AgentContext<TTools>): TOutput | Promise<TOutput>;
}

/** Checks and freezes an agent definition; export it as the module's default. @public */
export function defineAgent<
  TInput = any,
  TOutput = AgentJson,
  TTools extends AgentToolName = AgentToolName,
>(
  definition: AgentDefinition<TInput, TOutput, TTools>,
): Readonly<AgentDefinition<TInput, TOutput, TTools>>;

/** Thrown on access to a tool (or host) the run was not granted. @public */
export class ToolDeniedError extends Error {
  readonly code: 'tool-denied';
  readonly tool: string;
}
/** Thrown by `ctx.secrets.require` for a missing secret. @public */
export class SecretMissingError extends Error {
  readonly code: 'secret-missing';
  readonly secretName: string;
}
/** A tool call that failed at its service. @public */
export class ToolError extends Error {
  readonly tool: string;
}

/** @public */
export const RUNTIME_EVENT_TAG: 'agentplatform.runtime/v1';
/** @public */
export const RUNTIME_EXIT_CODES: Readonly<{
  success: 0;
  'agent-error': 1;
  'invalid-input': 2;
  'invalid-output': 3;
  'result-too-large': 4;
  'load-error': 5;
  'secret-missing': 6;
  'tool-denied': 7;
  timeout: 124;
}>;
/** Parses one stdout line into an event (without its tag), or undefined. @public */
export function parseRuntimeEventLine(
  line: string,
): ({ type: string; ts: string } & Record<string, any>) | undefined;
/** Whether a URL's host is allowed by an allow-list (exact host or `*.suffix`). @public */
export function isHostAllowed(
  url: URL,
  allowHosts: readonly string[] | undefined,
): boolean;
