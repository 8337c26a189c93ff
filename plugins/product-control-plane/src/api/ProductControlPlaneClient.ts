import { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';
import { ProductControlPlaneApi } from './ProductControlPlaneApi';
import { Execution, ExecutionLogLine, ExecutionStreamEvent } from './types';

/** Normalizes a log line from the infra plane's shapes to ExecutionLogLine. */
export function toLogLine(raw: unknown): ExecutionLogLine {
  if (typeof raw === 'string') return { message: raw };
  const r = (raw ?? {}) as Record<string, unknown>;
  let message: string;
  if (typeof r.message === 'string') message = r.message;
  else if (typeof r.line === 'string') message = r.line;
  else message = JSON.stringify(r);
  return {
    ts: typeof r.ts === 'string' ? r.ts : undefined,
    level: typeof r.level === 'string' ? r.level : undefined,
    message,
  };
}

/** The HTTP client of ProductControlPlaneApi. @public */
export class ProductControlPlaneClient implements ProductControlPlaneApi {
  constructor(
    private readonly options: {
      discoveryApi: DiscoveryApi;
      fetchApi: FetchApi;
    },
  ) {}

  private async call<T>(path: string, init?: RequestInit): Promise<T> {
    const baseUrl = await this.options.discoveryApi.getBaseUrl(
      'product-control-plane',
    );
    const response = await this.options.fetchApi.fetch(`${baseUrl}${path}`, {
      ...init,
      headers: {
        ...(init?.body ? { 'content-type': 'application/json' } : {}),
        ...init?.headers,
      },
    });
    if (!response.ok) throw await ResponseError.fromResponse(response);
    return (await response.json()) as T;
  }

  createExecution(
    request: Parameters<ProductControlPlaneApi['createExecution']>[0],
  ) {
    return this.call<Execution>('/executions', {
      method: 'POST',
      body: JSON.stringify(request),
    });
  }

  getExecution(id: string) {
    return this.call<Execution>(`/executions/${encodeURIComponent(id)}`);
  }

  listExecutions(
    filter: Parameters<ProductControlPlaneApi['listExecutions']>[0],
  ) {
    const params = new URLSearchParams();
    if (filter.agentRef) params.set('agentRef', filter.agentRef);
    if (filter.user) params.set('user', filter.user);
    if (filter.state?.length) params.set('state', filter.state.join(','));
    if (filter.limit) params.set('limit', String(filter.limit));
    if (filter.offset) params.set('offset', String(filter.offset));
    return this.call<{ items: Execution[]; totalCount: number }>(
      `/executions?${params}`,
    );
  }

  cancelExecution(id: string) {
    return this.call<Execution>(
      `/executions/${encodeURIComponent(id)}/cancel`,
      {
        method: 'POST',
        body: '{}',
      },
    );
  }

  retryExecution(id: string) {
    return this.call<Execution>(`/executions/${encodeURIComponent(id)}/retry`, {
      method: 'POST',
      body: '{}',
    });
  }

  async getLogs(id: string) {
    const body = await this.call<any>(
      `/executions/${encodeURIComponent(id)}/logs`,
    );
    const lines: unknown[] = Array.isArray(body)
      ? body
      : body.items ?? body.lines ?? [];
    return lines.map(toLogLine);
  }

  async streamEvents(
    id: string,
    onEvent: (event: ExecutionStreamEvent) => void,
    signal: AbortSignal,
  ) {
    const baseUrl = await this.options.discoveryApi.getBaseUrl(
      'product-control-plane',
    );
    const response = await this.options.fetchApi.fetch(
      `${baseUrl}/executions/${encodeURIComponent(id)}/events`,
      { signal, headers: { accept: 'text/event-stream' } },
    );
    if (!response.ok || !response.body) {
      throw await ResponseError.fromResponse(response);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (;;) {
        const index = buffer.indexOf('\n\n');
        if (index < 0) break;
        const block = buffer.slice(0, index);
        buffer = buffer.slice(index + 2);
        const event = /^event:\s*(.*)$/m.exec(block)?.[1];
        const data = block
          .split('\n')
          .filter(l => l.startsWith('data:'))
          .map(l => l.slice(5).trimStart())
          .join('\n');
        if (!data) continue;
        try {
          const parsed = JSON.parse(data);
          if (event === 'state') onEvent({ type: 'state', execution: parsed });
          else if (event === 'log')
            onEvent({ type: 'log', line: toLogLine(parsed) });
        } catch {
          // Ignore a malformed event.
        }
      }
    }
  }
}
