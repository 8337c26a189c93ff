import express from 'express';
import Router from 'express-promise-router';
import { z } from 'zod';
import {
  BackstageCredentials,
  HttpAuthService,
  LoggerService,
  PermissionsService,
  UserInfoService,
} from '@backstage/backend-plugin-api';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { InputError, NotAllowedError, NotFoundError } from '@backstage/errors';
import {
  entityRefPartsProblem,
  entityRefProblem,
  jsonInputProblem,
  marketplaceRefreshPermission,
  parseFlatQuery,
  urlInputProblem,
  peerRefusal,
  PRODUCT_CONTROL_PLANE_PLUGIN_ID,
  TERMINAL_EXECUTION_STATES,
} from '@internal/plugin-agents-common';
import { MarketplaceService } from './services/MarketplaceService';
import { ListingSync } from './services/ListingSync';
import { Viewer } from './database/types';
import { normalizeRef } from './database/MarketplaceStore';

const visibilities = ['public', 'internal', 'private', 'preview'] as const;
const pricings = ['free', 'per-run', 'subscription', 'metered'] as const;
const availabilities = [
  'available',
  'degraded',
  'unavailable',
  'preview',
  'unknown',
] as const;

/** Accepts `?tags=a&tags=b` and `?tags=a,b`. */
const list = <T extends z.ZodTypeAny>(item: T) =>
  z.preprocess(value => {
    if (value === undefined || value === '') return undefined;
    const values = Array.isArray(value) ? value : [value];
    return values
      .flatMap(v => String(v).split(','))
      .map(v => v.trim())
      .filter(Boolean);
  }, z.array(item).optional());

const listAgentsQuery = z.object({
  q: z.string().max(200).optional(),
  tags: list(z.string().max(100)),
  owner: z.string().max(255).optional(),
  pricing: list(z.enum(pricings)),
  visibility: list(z.enum(visibilities)),
  availability: list(z.enum(availabilities)),
  sort: z.enum(['name', 'popularity', 'successRate', 'newest']).default('name'),
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(100).default(20),
});

const entityRefString = z
  .string()
  .min(3)
  .max(255)
  .regex(
    /^[^:\s]+:([^/\s]+\/)?[^/\s]+$/,
    'must be an entity ref like kind:namespace/name',
  )
  .superRefine((ref, ctx) => {
    const problem = entityRefProblem(ref, 'user');
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const acquireBody = z.object({
  agentRef: entityRefString,
  plan: z.string().min(1).max(255),
  holderRef: entityRefString.optional(),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});

const checkBody = z.object({
  agentRef: entityRefString,
  userRef: entityRefString,
  ownershipRefs: z.array(entityRefString).max(1000),
  plan: z.string().min(1).max(255).optional(),
});

const usageBody = z.object({
  executionId: z.string().min(1).max(255),
  agentRef: entityRefString,
  userRef: entityRefString,
  holderRef: entityRefString,
  plan: z.string().min(1).max(255),
  state: z.enum(TERMINAL_EXECUTION_STATES as unknown as [string, ...string[]]),
  startedAt: z.iso.datetime({ offset: true }).optional(),
  finishedAt: z.iso.datetime({ offset: true }),
  computeSeconds: z.number().min(0),
  cost: z.number().min(0),
});

function parse<T extends z.ZodTypeAny>(
  schema: T,
  value: unknown,
  what: string,
): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues
      .map(i => `${i.path.join('.') || what}: ${i.message}`)
      .join('; ');
    throw new InputError(`Invalid ${what}: ${problems}`);
  }
  return result.data;
}

/** Creates the marketplace's HTTP API. */
export async function createRouter(options: {
  service: MarketplaceService;
  sync: ListingSync;
  httpAuth: HttpAuthService;
  userInfo: UserInfoService;
  permissions: PermissionsService;
  logger: LoggerService;
}): Promise<express.Router> {
  const { service, sync, httpAuth, userInfo, permissions, logger } = options;
  const router = Router();
  router.use(express.json({ limit: '256kb' }));
  router.use((req, _res, next) => {
    // Flat string values only: `?tags[toString]=x` is the key "tags[toString]".
    (req as { query: unknown }).query = parseFlatQuery(req.url);
    const problem =
      urlInputProblem(req.url) ?? jsonInputProblem(req.body, 'request body');
    if (problem) throw new InputError(problem);
    next();
  });

  async function viewerOf(credentials: BackstageCredentials): Promise<Viewer> {
    const principal = credentials.principal as { type: string };
    if (principal.type === 'service') return { type: 'service' };
    if (principal.type !== 'user') return { type: 'none' };
    const info = await userInfo.getUserInfo(credentials);
    const userRef = normalizeRef(info.userEntityRef, 'user');
    const claims = [
      ...new Set([
        userRef,
        ...info.ownershipEntityRefs.map(r => normalizeRef(r)),
      ]),
    ];
    return { type: 'user', userRef, claims };
  }

  const anyone = async (req: express.Request) =>
    viewerOf(
      await httpAuth.credentials(req, { allow: ['user', 'service', 'none'] }),
    );
  const user = async (req: express.Request) =>
    (await viewerOf(
      await httpAuth.credentials(req, { allow: ['user'] }),
    )) as Extract<Viewer, { type: 'user' }>;
  /** Only the service credentials of the named peer plugins pass (403 names them). */
  const peerOnly = async (req: express.Request, ...peerPluginIds: string[]) => {
    const credentials = await httpAuth.credentials(req, {
      allow: ['user', 'service'],
    });
    const refusal = peerRefusal(
      credentials.principal,
      `${req.method} ${req.baseUrl}${req.route.path}`,
      peerPluginIds,
    );
    if (refusal) throw new NotAllowedError(refusal);
  };
  /** `agent:<namespace>/<name>` from the route, each part checked (400 names the bad one). */
  const agentRefOf = (req: express.Request) => {
    const { namespace, name } = req.params;
    const problem = entityRefPartsProblem('agent', namespace, name);
    if (problem) throw new InputError(`Invalid agent ref: ${problem}`);
    return `agent:${namespace}/${name}`;
  };

  router.get('/agents', async (req, res) => {
    const query = parse(listAgentsQuery, req.query, 'query');
    res.json(await service.listAgents(query, await anyone(req)));
  });

  router.get('/agents/:namespace/:name', async (req, res) => {
    const agentRef = agentRefOf(req);
    res.json(await service.getAgent(agentRef, await anyone(req)));
  });

  router.put('/agents/:namespace/:name/visibility', async (req, res) => {
    const viewer = await user(req);
    const agentRef = agentRefOf(req);
    const body = parse(
      z.object({ visibility: z.enum(visibilities).nullable() }),
      req.body,
      'body',
    );
    res.json(await service.setVisibility(viewer, agentRef, body.visibility));
  });

  router.post('/refresh', async (req, res) => {
    const credentials = await httpAuth.credentials(req, {
      allow: ['user', 'service'],
    });
    const [decision] = await permissions.authorize(
      [{ permission: marketplaceRefreshPermission }],
      { credentials },
    );
    if (decision.result !== AuthorizeResult.ALLOW) {
      throw new NotAllowedError(
        'Only platform admins may re-read every listing (marketplace.listings.refresh); listings follow the catalog on their own',
      );
    }
    res.json(await sync.syncAll());
  });

  router.post('/entitlements/check', async (req, res) => {
    await peerOnly(req, PRODUCT_CONTROL_PLANE_PLUGIN_ID);
    const body = parse(checkBody, req.body, 'body');
    res.json(await service.check(body));
  });

  router.post('/entitlements', async (req, res) => {
    const viewer = await user(req);
    const body = parse(acquireBody, req.body, 'body');
    const entitlement = await service.acquire(viewer, body);
    logger.info('Entitlement created', {
      id: entitlement.id,
      agentRef: entitlement.agentRef,
      holderRef: entitlement.holderRef,
      plan: entitlement.plan,
    });
    res.status(201).json(entitlement);
  });

  router.get('/entitlements', async (req, res) => {
    const viewer = await user(req);
    const q = parse(
      z.object({
        mine: z.enum(['true', 'false', '']).optional(),
        status: z.enum(['active', 'all']).default('active'),
      }),
      req.query,
      'query',
    );
    if (q.mine === 'false')
      throw new InputError(
        'Only ?mine is supported; owners see holders under /publishing',
      );
    res.json(await service.myEntitlements(viewer, q.status === 'all'));
  });

  router.patch('/entitlements/:id', async (req, res) => {
    const viewer = await user(req);
    const body = parse(
      z.object({ plan: z.string().min(1).max(255) }),
      req.body,
      'body',
    );
    res.json(await service.switchPlan(viewer, req.params.id, body.plan));
  });

  router.delete('/entitlements/:id', async (req, res) => {
    res.json(await service.cancel(await user(req), req.params.id));
  });
  router.post('/entitlements/:id/cancel', async (req, res) => {
    res.json(await service.cancel(await user(req), req.params.id));
  });
  router.post('/entitlements/:id/revoke', async (req, res) => {
    res.json(await service.revoke(await user(req), req.params.id));
  });
  router.get('/entitlements/:id/audit', async (req, res) => {
    res.json({ items: await service.audit(await user(req), req.params.id) });
  });

  router.get('/usage', async (req, res) => {
    res.json(await service.usage(await user(req)));
  });

  router.post('/usage', async (req, res) => {
    await peerOnly(req, PRODUCT_CONTROL_PLANE_PLUGIN_ID);
    const body = parse(usageBody, req.body, 'body');
    if (
      body.startedAt &&
      new Date(body.startedAt) > new Date(body.finishedAt)
    ) {
      throw new InputError('Invalid body: startedAt is after finishedAt');
    }
    const result = await service.recordUsage(body as any);
    res.status(result.recorded ? 201 : 200).json(result);
  });

  router.get('/publishing', async (req, res) => {
    res.json(await service.publishing(await user(req)));
  });

  router.get('/visibility-overrides', async (req, res) => {
    // Read by the portal's permission policy, a module of the permission plugin.
    await peerOnly(req, 'permission');
    res.json({ items: await service.visibilityOverrides() });
  });

  // Anything else is a 404 that says so (instead of an empty body).
  router.use((req: express.Request) => {
    throw new NotFoundError(`No route ${req.method} ${req.baseUrl}${req.path}`);
  });

  return router;
}
