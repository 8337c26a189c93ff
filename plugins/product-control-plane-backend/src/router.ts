import { HttpAuthService, LoggerService } from '@backstage/backend-plugin-api';
import { InputError, NotAllowedError, NotFoundError } from '@backstage/errors';
import {
  entityRefProblem,
  ExecutionViewPage,
  INFRA_CONTROL_PLANE_PLUGIN_ID,
  isTerminalExecutionState,
  jsonInputProblem,
  parseFlatQuery,
  urlInputProblem,
  peerRefusal,
} from '@internal/plugin-agents-common';
import express, { Request } from 'express';
import Router from 'express-promise-router';
import { z } from 'zod';
import { ExecutionRecord } from './database/ExecutionStore';
import { ExecutionService } from './services/ExecutionService';
import { toView } from './services/executionView';
import { LayerClient } from './services/LayerClient';
import {
  createExecutionSchema,
  idempotencyHeader,
  listSchema,
  parse,
  secretBodySchema,
  secretNameSchema,
  updateSchema,
} from './routerInput';

/** Options of createRouter. */
export interface RouterOptions {
  executions: ExecutionService;
  httpAuth: HttpAuthService;
  layers: LayerClient;
  logger: LoggerService;
}

/** The executions API (see openapi.yaml). */
export async function createRouter(
  options: RouterOptions,
): Promise<express.Router> {
  const { executions, httpAuth, layers } = options;
  const router = Router();
  router.use(express.json({ limit: '2mb' }));
  router.use((req, _res, next) => {
    // Flat string values only: `?state[toString]=x` is a plain key.
    (req as { query: unknown }).query = parseFlatQuery(req.url);
    const problem =
      urlInputProblem(req.url) ?? jsonInputProblem(req.body, 'request body');
    if (problem) throw new InputError(problem);
    next();
  });

  const view = (r: ExecutionRecord) => toView(r);
  const userCredentials = (req: Request) =>
    httpAuth.credentials(req, { allow: ['user'] });
  /** The internal routes are the infra control plane's only (403 names it). */
  const infraControlPlaneOnly = async (req: Request) => {
    const credentials = await httpAuth.credentials(req, {
      allow: ['user', 'service'],
    });
    const refusal = peerRefusal(
      credentials.principal,
      `${req.method} ${req.baseUrl}${req.route.path}`,
      [INFRA_CONTROL_PLANE_PLUGIN_ID],
    );
    if (refusal) throw new NotAllowedError(refusal);
  };
  /** The `:agentRef` of the secrets routes, checked part by part. */
  const agentRefParam = (req: Request) => {
    const problem = entityRefProblem(req.params.agentRef, 'agent');
    if (problem) throw new InputError(`Invalid agentRef: ${problem}`);
    return req.params.agentRef;
  };

  router.post('/executions', async (req, res) => {
    const credentials = await userCredentials(req);
    const body = parse(createExecutionSchema, req.body, 'request body');
    const headerKey = idempotencyHeader(req);
    if (headerKey && body.idempotencyKey && headerKey !== body.idempotencyKey) {
      throw new InputError(
        'Idempotency-Key header and body idempotencyKey differ',
      );
    }
    const { record, created } = await executions.create(
      {
        ...body,
        input: body.input as any,
        idempotencyKey: body.idempotencyKey ?? headerKey,
      },
      credentials,
    );
    await respondCreated(res, record, created, body.mode);
  });

  async function respondCreated(
    res: express.Response,
    record: ExecutionRecord,
    created: boolean,
    mode: 'sync' | 'async',
  ) {
    if (!created) res.setHeader('Idempotent-Replay', 'true');
    let current = record;
    if (mode === 'sync' && !isTerminalExecutionState(current.state)) {
      current = await executions.waitForTerminal(record.id);
    }
    res.setHeader('Location', `executions/${current.id}`);
    res
      .status(isTerminalExecutionState(current.state) ? 200 : 202)
      .json(view(current));
  }

  router.get('/executions', async (req, res) => {
    const credentials = await userCredentials(req);
    const q = parse(listSchema, req.query, 'query');
    const { items, totalCount } = await executions.list(
      {
        agentRef: q.agentRef,
        userRef: q.user,
        state: q.state,
        limit: q.limit,
        offset: q.offset,
      },
      credentials,
    );
    const page: ExecutionViewPage = {
      items: items.map(view),
      totalCount,
      limit: q.limit,
      offset: q.offset,
    };
    res.json(page);
  });

  router.get('/executions/:id', async (req, res) => {
    const credentials = await httpAuth.credentials(req);
    res.json(view(await executions.get(req.params.id, credentials)));
  });

  router.get('/executions/:id/audit', async (req, res) => {
    const credentials = await userCredentials(req);
    res.json({
      items: await executions.auditTrail(req.params.id, credentials),
    });
  });

  router.post('/executions/:id/cancel', async (req, res) => {
    const credentials = await httpAuth.credentials(req);
    const record = await executions.cancel(req.params.id, credentials);
    res
      .status(isTerminalExecutionState(record.state) ? 200 : 202)
      .json(view(record));
  });

  router.post('/executions/:id/retry', async (req, res) => {
    const credentials = await userCredentials(req);
    const body = parse(
      z.object({ mode: z.enum(['sync', 'async']).default('async') }).strict(),
      req.body ?? {},
      'request body',
    );
    const { record, created } = await executions.retry(
      req.params.id,
      credentials,
      { idempotencyKey: idempotencyHeader(req), mode: body.mode },
    );
    await respondCreated(res, record, created, body.mode);
  });

  router.get('/executions/:id/logs', async (req, res) => {
    const credentials = await userCredentials(req);
    const record = await executions.get(req.params.id, credentials);
    const response = await layers.fetch(
      INFRA_CONTROL_PLANE_PLUGIN_ID,
      `/executions/${encodeURIComponent(record.id)}/logs`,
    );
    if (response.status === 404) {
      // Not dispatched yet (or already expired there): no lines.
      res.json({ executionId: record.id, lines: [], next: 0 });
      return;
    }
    res
      .status(response.status)
      .type(response.headers.get('content-type') ?? 'application/json')
      .send(await response.text());
  });

  router.get('/executions/:id/events', async (req, res) => {
    const credentials = await userCredentials(req);
    const record = await executions.get(req.params.id, credentials);
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders?.();
    const send = (event: string, data: unknown) => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      (res as any).flush?.();
    };
    let lastState = record.state;
    let closed = false;
    const abort = new AbortController();
    send('state', view(record));

    const onChange = (r: ExecutionRecord) => {
      if (r.id !== record.id || closed) return;
      lastState = r.state;
      send('state', view(r));
    };
    executions.events.on('change', onChange);
    // Changes applied by another instance reach us through this re-read.
    const poll = setInterval(async () => {
      try {
        const r = await executions.get(record.id, credentials);
        if (r.state !== lastState) onChange(r);
      } catch {
        /* deleted meanwhile */
      }
    }, 3000);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15000);
    const close = () => {
      if (closed) return;
      closed = true;
      abort.abort();
      clearInterval(poll);
      clearInterval(heartbeat);
      executions.events.off('change', onChange);
      res.end();
    };
    req.on('close', close);
    relayLogs(record.id, abort.signal, send).catch(() => {});
  });

  /**
   * Relays the infra plane's log lines as `log` events: its SSE stream when
   * it answers `?follow=1` with one, else its persisted lines, polled with
   * the `after` cursor until the run is finished and every line was sent.
   */
  async function relayLogs(
    id: string,
    signal: AbortSignal,
    send: (event: string, data: unknown) => void,
  ) {
    const path = `/executions/${encodeURIComponent(id)}/logs`;
    let after = 0;
    let first = true;
    while (!signal.aborted) {
      const finished = isTerminalExecutionState(
        (await executions.peek(id))?.state ?? 'failed',
      );
      let response: Response | undefined;
      try {
        response = await layers.fetch(
          INFRA_CONTROL_PLANE_PLUGIN_ID,
          first ? `${path}?follow=1` : `${path}?after=${after}`,
          { signal },
        );
      } catch {
        if (signal.aborted) return;
      }
      first = false;
      const type = response?.headers.get('content-type') ?? '';
      if (response?.ok && type.includes('text/event-stream') && response.body) {
        await relaySse(response, send);
        return;
      }
      let got = 0;
      if (response?.ok) {
        const body = await response.json().catch(() => ({}));
        const lines: Array<{ seq?: number }> = Array.isArray(body)
          ? body
          : body.lines ?? body.items ?? [];
        for (const line of lines) {
          if (typeof line.seq === 'number') {
            if (line.seq <= after) continue;
            after = line.seq;
          }
          send('log', line);
          got++;
        }
        if (typeof body.next === 'number') after = Math.max(after, body.next);
      }
      // A finished run whose lines were all read: nothing more will come.
      if (finished && got === 0) return;
      if (got === 0) await new Promise(r => setTimeout(r, 1000));
    }
  }

  async function relaySse(
    response: Response,
    send: (event: string, data: unknown) => void,
  ) {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as any) {
      buffer += decoder.decode(chunk, { stream: true });
      for (;;) {
        const index = buffer.indexOf('\n\n');
        if (index < 0) break;
        const block = buffer.slice(0, index);
        buffer = buffer.slice(index + 2);
        const data = block
          .split('\n')
          .filter(l => l.startsWith('data:'))
          .map(l => l.slice(5).trimStart())
          .join('\n');
        const eventName = /^event:\s*(.*)$/m.exec(block)?.[1];
        if (!data || (eventName && !['log', 'message'].includes(eventName))) {
          continue;
        }
        try {
          send('log', JSON.parse(data));
        } catch {
          send('log', { message: data });
        }
      }
    }
  }

  // -- user secrets (values are write-only) -----------------------------------

  router.get('/secrets/:agentRef', async (req, res) => {
    const credentials = await userCredentials(req);
    res.json(await executions.listSecretNames(credentials, agentRefParam(req)));
  });

  router.put('/secrets/:agentRef/:name', async (req, res) => {
    const credentials = await userCredentials(req);
    const agentRef = agentRefParam(req);
    const name = parse(secretNameSchema, req.params.name, 'secret name');
    const { value } = parse(secretBodySchema, req.body, 'request body');
    await executions.putUserSecret(credentials, agentRef, name, value);
    res.status(204).end();
  });

  router.delete('/secrets/:agentRef/:name', async (req, res) => {
    const credentials = await userCredentials(req);
    await executions.deleteUserSecret(
      credentials,
      agentRefParam(req),
      req.params.name,
    );
    res.status(204).end();
  });

  // -- internal: the infra control plane only ----------------------------------

  router.post('/internal/executions/:id/updates', async (req, res) => {
    await infraControlPlaneOnly(req);
    const update = parse(updateSchema, req.body, 'execution update');
    const { record, changed } = await executions.applyUpdate(
      req.params.id,
      update as any,
    );
    res.json({ state: record.state, changed });
  });

  router.get('/internal/executions/:id/secrets', async (req, res) => {
    await infraControlPlaneOnly(req);
    res.json({ secrets: await executions.resolveSecrets(req.params.id) });
  });

  // The requester's own catalog token of a run, while it is unfinished.
  router.get('/internal/executions/:id/catalog-token', async (req, res) => {
    await infraControlPlaneOnly(req);
    res.json(await executions.catalogToken(req.params.id));
  });

  // Anything else is a 404 that says so (instead of an empty body).
  router.use((req: express.Request) => {
    throw new NotFoundError(`No route ${req.method} ${req.baseUrl}${req.path}`);
  });

  return router;
}
