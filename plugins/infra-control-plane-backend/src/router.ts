import { HttpAuthService, LoggerService } from '@backstage/backend-plugin-api';
import { InputError, NotAllowedError, NotFoundError } from '@backstage/errors';
import {
  entityRefProblem,
  ExecutionPlan,
  jsonInputProblem,
  parseFlatQuery,
  urlInputProblem,
  peerRefusal,
  PRODUCT_CONTROL_PLANE_PLUGIN_ID,
} from '@internal/plugin-agents-common';
import { CatalogService } from '@backstage/plugin-catalog-node';
import express, { Request } from 'express';
import Router from 'express-promise-router';
import { z } from 'zod';
import { ExecutionRecord, ExecutionStore } from './database/ExecutionStore';
import { CapacityService } from './services/CapacityService';
import { ExecutionManager } from './services/ExecutionManager';
import { AgentExecutor } from './services/executors/types';

const quantity = z
  .string()
  .regex(
    /^\d+(\.\d+)?([a-zA-Z]{1,2})?$/,
    'a Kubernetes quantity, e.g. 250m or 128Mi',
  );

/** zod schema of the ExecutionPlan contract. */
export const executionPlanSchema = z.object({
  executionId: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-"'),
  attempt: z.number().int().min(1),
  agentRef: z.string().min(1).max(255),
  agentVersion: z.string().min(1).max(255),
  image: z.string().min(1),
  entrypoint: z.string().min(1),
  codeDir: z.string().min(1).optional(),
  input: z.record(z.string(), z.unknown()),
  outputSchema: z.record(z.string(), z.unknown()).optional(),
  tools: z.array(
    z.object({
      name: z.enum(['http', 'llm', 'catalog']),
      allowHosts: z.array(z.string().min(1)).optional(),
    }),
  ),
  secrets: z.array(
    z.object({
      name: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment-style name'),
      source: z.enum(['platform', 'user']),
      ref: z.string().min(1).max(253),
    }),
  ),
  resources: z.object({
    cpu: quantity,
    memory: quantity,
    timeoutSeconds: z.number().int().min(1).max(86400),
  }),
  requestedBy: z.string().min(1),
  plan: z.string().min(1),
});

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues
      .map(i => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new InputError(`Invalid ${what}: ${issues}`);
  }
  return result.data;
}

/** What the API answers about an execution (no plan input, no secrets). */
export function executionView(record: ExecutionRecord) {
  return {
    executionId: record.executionId,
    attempt: record.attempt,
    agentRef: record.agentRef,
    agentVersion: record.agentVersion,
    executor: record.executor,
    cluster: record.cluster,
    jobName: record.jobName,
    state: record.state,
    exitReason: record.exitReason,
    exitCode: record.exitCode,
    message: record.message,
    result: record.result,
    createdAt: record.createdAt,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    computeSeconds: record.computeSeconds,
  };
}

/** Options of {@link createRouter}. */
export interface RouterOptions {
  httpAuth: HttpAuthService;
  logger: LoggerService;
  manager: ExecutionManager;
  store: ExecutionStore;
  executor: AgentExecutor;
  capacity: CapacityService;
  catalog: CatalogService;
}

/** The infra control plane's REST API. */
export async function createRouter(
  options: RouterOptions,
): Promise<express.Router> {
  const { httpAuth, manager, store, executor, capacity, catalog } = options;
  const router = Router();
  router.use(express.json({ limit: '2mb' }));
  router.use((req, _res, next) => {
    // Flat string values only: `?agentRef[toString]=x` is a plain key.
    (req as { query: unknown }).query = parseFlatQuery(req.url);
    const problem =
      urlInputProblem(req.url) ?? jsonInputProblem(req.body, 'request body');
    if (problem) throw new InputError(problem);
    next();
  });

  /** Runs are the product control plane's to submit, read and cancel (403 names it). */
  const productControlPlaneOnly = async (req: Request) => {
    const credentials = await httpAuth.credentials(req, {
      allow: ['user', 'service'],
    });
    const refusal = peerRefusal(
      credentials.principal,
      `${req.method} ${req.baseUrl}${req.route.path}`,
      [PRODUCT_CONTROL_PLANE_PLUGIN_ID],
    );
    if (refusal) throw new NotAllowedError(refusal);
  };

  router.post('/executions', async (req, res) => {
    await productControlPlaneOnly(req);
    const plan = parse(
      executionPlanSchema,
      req.body,
      'execution plan',
    ) as ExecutionPlan;
    const { record, created } = await manager.submit(plan);
    res.status(created ? 202 : 200).json(executionView(record));
  });

  router.get('/executions/:id', async (req, res) => {
    await productControlPlaneOnly(req);
    res.json(executionView(await manager.get(req.params.id)));
  });

  router.post('/executions/:id/cancel', async (req, res) => {
    await productControlPlaneOnly(req);
    const record = await manager.cancel(req.params.id);
    res.status(202).json(executionView(record));
  });

  router.get('/executions/:id/logs', async (req, res) => {
    await productControlPlaneOnly(req);
    const query = parse(
      z.object({
        after: z.coerce.number().int().min(0).optional(),
        limit: z.coerce.number().int().min(1).max(5000).optional(),
      }),
      req.query,
      'logs query',
    );
    const record = await manager.get(req.params.id);
    const lines = await store.readLogs(
      record.executionId,
      query.after ?? 0,
      query.limit ?? 1000,
    );
    res.json({
      executionId: record.executionId,
      state: record.state,
      truncated: record.logTruncated,
      lines,
      next: lines.length ? lines[lines.length - 1].seq : query.after ?? 0,
    });
  });

  router.get('/health', async (_req, res) => {
    let database = { ok: true, message: 'reachable' };
    try {
      await store.ping();
    } catch (error) {
      database = { ok: false, message: `unreachable: ${String(error)}` };
    }
    const exec = await executor.health();
    const ready = database.ok && exec.ok;
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ok' : 'unavailable',
      liveness: { ok: true },
      readiness: {
        ok: ready,
        database,
        executor: { kind: executor.kind, ...exec },
      },
      pendingUpdates: await store.pendingUpdateCount().catch(() => undefined),
    });
  });

  router.get('/capacity', async (req, res) => {
    const credentials = await httpAuth.credentials(req, {
      allow: ['service', 'user'],
    });
    const { agentRef } = parse(
      z.object({
        agentRef: z
          .union([z.string(), z.array(z.string()).max(1000)])
          .optional()
          .transform(v => ([] as string[]).concat(v ?? []))
          .pipe(
            z.array(
              z.string().superRefine((ref, ctx) => {
                const problem = entityRefProblem(ref, 'agent');
                if (problem) ctx.addIssue({ code: 'custom', message: problem });
              }),
            ),
          ),
      }),
      req.query,
      'capacity query',
    );
    res.json(
      await capacity.report(
        agentRef,
        // A user learns about the agents they may see in the catalog only:
        // a private agent is as unknown as one that does not exist.
        (credentials.principal as { type: string }).type === 'user'
          ? async refs => {
              const { items } = await catalog.getEntitiesByRefs(
                { entityRefs: refs, fields: ['kind', 'metadata.name'] },
                { credentials },
              );
              return new Set(refs.filter((_, i) => items[i]));
            }
          : undefined,
      ),
    );
  });

  // Anything else is a 404 that says so (instead of an empty body).
  router.use((req: express.Request) => {
    throw new NotFoundError(`No route ${req.method} ${req.baseUrl}${req.path}`);
  });

  return router;
}
