import { JsonValue } from '@backstage/types';
import {
  RUNTIME_EVENT_TAG,
  RUNTIME_EXIT_CODES,
  RuntimeErrorCode,
  RuntimeEvent,
} from '@internal/plugin-agents-common';

/** A log line ready to be stored. */
export interface ParsedLogLine {
  ts: string;
  level: string;
  message: string;
}

/** Replaces every secret value in a text by `[REDACTED]` (the runtime's marker). @public */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) {
      out = out.split(secret).join('[REDACTED]');
    }
  }
  return out;
}

const EXIT_REASONS = new Map<number, string>(
  Object.entries(RUNTIME_EXIT_CODES).map(([k, v]) => [v as number, k]),
);

/** The runtime exit reason of an exit code (`agent-error`, `timeout`...). */
export function exitReasonOfCode(code: number): string | undefined {
  return EXIT_REASONS.get(code);
}

/**
 * Follows one run's output: turns runtime events into log lines and keeps
 * the result and error events. Secret values are redacted from everything
 * it returns.
 */
export class RuntimeOutputParser {
  started?: string;
  result?: { value: JsonValue };
  error?: { code: RuntimeErrorCode; message: string };
  private pending: Record<'stdout' | 'stderr', string> = {
    stdout: '',
    stderr: '',
  };

  constructor(private readonly secrets: readonly string[]) {}

  /** Feeds raw chunks; returns the complete lines they finish. */
  feedChunk(stream: 'stdout' | 'stderr', chunk: string): string[] {
    const text = this.pending[stream] + chunk;
    const parts = text.split('\n');
    this.pending[stream] = parts.pop() ?? '';
    return parts;
  }

  /** The unterminated rest of a stream, at exit. */
  flush(stream: 'stdout' | 'stderr'): string[] {
    const rest = this.pending[stream];
    this.pending[stream] = '';
    return rest ? [rest] : [];
  }

  /** Interprets complete lines; returns log lines to store. */
  parse(stream: 'stdout' | 'stderr', lines: string[]): ParsedLogLine[] {
    const out: ParsedLogLine[] = [];
    for (const raw of lines) {
      const line = raw.replace(/\r$/, '');
      if (!line.trim()) continue;
      const event = stream === 'stdout' ? parseEvent(line) : undefined;
      if (!event) {
        out.push({
          ts: new Date().toISOString(),
          level: stream === 'stderr' ? 'error' : 'info',
          message: redact(line, this.secrets),
        });
        continue;
      }
      const logLine = this.handle(event);
      if (logLine) {
        out.push({
          ...logLine,
          message: redact(logLine.message, this.secrets),
        });
      }
    }
    return out;
  }

  /**
   * A log line for an event the platform itself records for the run (e.g.
   * an egress proxy decision), redacted like the runtime's own. It never
   * sets the run's result or error.
   */
  platformEvent(
    event: Extract<RuntimeEvent, { type: 'log' | 'tool-denied' }>,
  ): ParsedLogLine | undefined {
    const line = this.handle(event);
    return line && { ...line, message: redact(line.message, this.secrets) };
  }

  private handle(event: RuntimeEvent): ParsedLogLine | undefined {
    switch (event.type) {
      case 'started':
        this.started = event.ts;
        return {
          ts: event.ts,
          level: 'info',
          message: `started ${event.agent}${
            event.version ? `@${event.version}` : ''
          } with tools [${(event.tools ?? []).join(', ')}]`,
        };
      case 'heartbeat':
        return undefined;
      case 'progress':
        return {
          ts: event.ts,
          level: 'info',
          message: `progress ${event.percent}%${
            event.message ? `: ${event.message}` : ''
          }`,
        };
      case 'log':
        return { ts: event.ts, level: event.level, message: event.message };
      case 'tool-denied':
        return {
          ts: event.ts,
          level: 'warn',
          message: `tool denied: ${event.tool}: ${event.message}`,
        };
      case 'result':
        this.result = { value: event.result };
        return { ts: event.ts, level: 'info', message: 'result received' };
      case 'error':
        this.error = { code: event.code, message: event.message };
        return {
          ts: event.ts,
          level: 'error',
          message: `${event.code}: ${event.message}`,
        };
      default:
        return undefined;
    }
  }
}

function parseEvent(line: string): RuntimeEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line);
    if (
      value &&
      typeof value === 'object' &&
      value.tag === RUNTIME_EVENT_TAG &&
      typeof value.type === 'string'
    ) {
      return value as RuntimeEvent;
    }
  } catch {
    // not an event: kept as a plain log line
  }
  return undefined;
}
