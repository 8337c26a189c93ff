import {
  createBackendPlugin,
  createServiceFactory,
  coreServices,
} from '@backstage/backend-plugin-api';
import { actionsRegistryServiceRef } from '@backstage/backend-plugin-api/alpha';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import {
  AgentEntity,
  AgentPlan,
  EntitlementCheckRequest,
  EntitlementCheckResponse,
  ExecutionPlan,
  UsageRecord,
} from '@internal/plugin-agents-common';
import { Entity } from '@backstage/catalog-model';
import express from 'express';
import { Knex } from 'knex';
import request from 'supertest';
import { productControlPlanePlugin } from '../plugin';

/** An Agent entity for tests. */
export function agent(
  name: string,
  overrides: {
    spec?: Partial<AgentEntity['spec']>;
    annotations?: Record<string, string>;
    plans?: AgentPlan[];
    visibility?: 'public' | 'internal' | 'private' | 'preview';
  } = {},
): AgentEntity {
  return {
    apiVersion: 'agentplatform.dev/v1alpha1',
    kind: 'Agent',
    metadata: {
      name,
      namespace: 'default',
      annotations: {
        'backstage.io/managed-by-location': `file:/srv/catalog/agents/${name}/catalog-info.yaml`,
        ...overrides.annotations,
      },
    },
    spec: {
      owner: 'group:default/agent-owners',
      lifecycle: 'production',
      version: '1.2.0',
      runtime: {
        image: `registry.example.com/${name}:1.2.0`,
        entrypoint: 'index.js',
      },
      input: {
        type: 'object',
        required: ['text'],
        properties: {
          text: { type: 'string', minLength: 1 },
          count: { type: 'integer', minimum: 1 },
        },
      },
      tools: ['llm', 'http', 'catalog'],
      secrets: ['OPENAI_API_KEY', 'GITHUB_TOKEN', 'UNPROVIDED'],
      resources: { cpu: '500m', memory: '256Mi', timeoutSeconds: 120 },
      marketplace: {
        visibility: overrides.visibility ?? 'internal',
        plans: overrides.plans ?? [
          { name: 'free', pricing: 'free', runsPerDay: 100, concurrency: 5 },
        ],
      },
      ...overrides.spec,
    },
  };
}

/** What the fake marketplace and infra plane saw, and how they behave. */
export interface Fakes {
  checks: EntitlementCheckRequest[];
  usage: UsageRecord[];
  plans: ExecutionPlan[];
  cancels: string[];
  /** Answer of the entitlement check; default: allowed under the agent's first plan. */
  entitle: (req: EntitlementCheckRequest) => EntitlementCheckResponse;
  /** HTTP status the infra plane answers plans with (202 = accepted). */
  infraStatus: number;
  logs: Record<string, Array<{ ts: string; level: string; message: string }>>;
}

export function createFakes(entities: Entity[]): Fakes {
  const fakes: Fakes = {
    checks: [],
    usage: [],
    plans: [],
    cancels: [],
    infraStatus: 202,
    logs: {},
    entitle: req => {
      const e = entities.find(
        x => `agent:default/${x.metadata.name}` === req.agentRef,
      ) as AgentEntity | undefined;
      const plans = e?.spec.marketplace?.plans ?? [];
      const plan = req.plan ? plans.find(p => p.name === req.plan) : plans[0];
      if (!plan) {
        return {
          allowed: false,
          code: 'plan-not-found',
          reason: `No plan ${req.plan}`,
        };
      }
      return {
        allowed: true,
        entitlementId: `ent-${req.userRef}`,
        holderRef: req.userRef,
        plan,
      };
    },
  };
  return fakes;
}

/** A stand-in for the marketplace plugin (entitlement check + usage). */
function fakeMarketplace(fakes: Fakes) {
  return createBackendPlugin({
    pluginId: 'marketplace',
    register(env) {
      env.registerInit({
        deps: {
          httpRouter: coreServices.httpRouter,
          httpAuth: coreServices.httpAuth,
        },
        async init({ httpRouter, httpAuth }) {
          const router = express.Router();
          router.use(express.json());
          router.post('/entitlements/check', async (req, res) => {
            await httpAuth.credentials(req, { allow: ['service'] });
            fakes.checks.push(req.body);
            res.json(fakes.entitle(req.body));
          });
          router.post('/usage', async (req, res) => {
            await httpAuth.credentials(req, { allow: ['service'] });
            if (
              !fakes.usage.some(u => u.executionId === req.body.executionId)
            ) {
              fakes.usage.push(req.body);
            }
            res.status(202).json({});
          });
          httpRouter.use(router);
        },
      });
    },
  });
}

/** A stand-in for the infra control plane (receives plans and cancels). */
function fakeInfra(fakes: Fakes) {
  return createBackendPlugin({
    pluginId: 'infra-control-plane',
    register(env) {
      env.registerInit({
        deps: {
          httpRouter: coreServices.httpRouter,
          httpAuth: coreServices.httpAuth,
        },
        async init({ httpRouter, httpAuth }) {
          const router = express.Router();
          router.use(express.json());
          router.post('/executions', async (req, res) => {
            await httpAuth.credentials(req, { allow: ['service'] });
            if (fakes.infraStatus >= 300) {
              res
                .status(fakes.infraStatus)
                .json({ error: { message: 'infra says no' } });
              return;
            }
            if (
              !fakes.plans.some(p => p.executionId === req.body.executionId)
            ) {
              fakes.plans.push(req.body);
            }
            res.status(202).json({ executionId: req.body.executionId });
          });
          router.post('/executions/:id/cancel', async (req, res) => {
            await httpAuth.credentials(req, { allow: ['service'] });
            fakes.cancels.push(req.params.id);
            res.status(202).json({});
          });
          router.get('/executions/:id/logs', async (req, res) => {
            await httpAuth.credentials(req, { allow: ['service'] });
            const lines = fakes.logs[req.params.id];
            if (!lines) {
              res.status(404).json({ error: { message: 'unknown' } });
              return;
            }
            // Like the real infra plane: persisted lines after a cursor.
            const after = Number(req.query.after ?? 0);
            const page = lines
              .map((line, i) => ({ seq: i + 1, ...line }))
              .filter(line => line.seq > after);
            res.json({
              executionId: req.params.id,
              lines: page,
              next: page.length ? page[page.length - 1].seq : after,
            });
          });
          httpRouter.use(router);
        },
      });
    },
  });
}

/** Starts the plugin with the fakes, a catalog and config on the given database. */
export async function startPlugin(options: {
  knex: Knex;
  entities: Entity[];
  config?: Record<string, unknown>;
  fakes?: Fakes;
  permissions?: 'allow' | 'deny';
  /** Receives the plugin's registered actions. */
  actionsRegistry?: object;
  /**
   * Receives the plugin's scheduled tasks by id, to run them on demand (they
   * then never run on their own).
   */
  tasks?: Map<string, () => Promise<void>>;
}): Promise<{ server: any; fakes: Fakes; knex: Knex }> {
  const fakes = options.fakes ?? createFakes(options.entities);
  const { server } = await startTestBackend({
    features: [
      productControlPlanePlugin,
      fakeMarketplace(fakes),
      fakeInfra(fakes),
      catalogServiceMock.factory({ entities: options.entities }),
      mockServices.database.factory({ knex: options.knex }),
      mockServices.rootConfig.factory({
        data: {
          productControlPlane: {
            secrets: { GITHUB_TOKEN: 'platform-github-token-value' },
            // Every test agent declares GITHUB_TOKEN: granted to all of them
            // ('owned' is owned by a user, not the group).
            platformSecrets: [
              {
                name: 'GITHUB_TOKEN',
                ownerGroups: ['group:default/agent-owners'],
                agents: ['agent:default/owned'],
              },
            ],
            // The versions test runs bare Docker Hub images (old:1.0.0).
            images: {
              allowedRegistries: ['registry.example.com', 'docker.io/library'],
            },
            userSecrets: { encryptionKey: 'test-key-passphrase' },
            dispatcher: { intervalSeconds: 3600 },
            ...(options.config ?? {}),
          },
        },
      }),
      ...(options.actionsRegistry
        ? [
            createServiceFactory({
              service: actionsRegistryServiceRef,
              deps: {},
              factory: () => options.actionsRegistry as any,
            }),
          ]
        : []),
      ...(options.tasks
        ? [
            mockServices.scheduler.mock({
              scheduleTask: async task => {
                options.tasks!.set(task.id, () =>
                  Promise.resolve(task.fn(new AbortController().signal)),
                );
              },
            }).factory,
          ]
        : []),
      ...(options.permissions === 'deny'
        ? [mockServices.permissions.factory({ result: 2 as any })]
        : []),
    ],
  });
  return { server, fakes, knex: options.knex };
}

export const userHeader = (name = 'alice') =>
  mockCredentials.user.header(`user:default/${name}`);

export const infraHeader = () =>
  mockCredentials.service.header({
    onBehalfOf: mockCredentials.service('plugin:infra-control-plane'),
    targetPluginId: 'product-control-plane',
  });

/** The service token another plugin's auth service would send to this one. */
export const pluginHeader = (pluginId: string) =>
  mockCredentials.service.header({
    onBehalfOf: mockCredentials.service(`plugin:${pluginId}`),
    targetPluginId: 'product-control-plane',
  });

/** Posts one ExecutionUpdate as the infra plane would. */
export function postUpdate(
  server: any,
  id: string,
  update: Record<string, unknown>,
) {
  return request(server)
    .post(`/api/product-control-plane/internal/executions/${id}/updates`)
    .set('authorization', infraHeader())
    .send({
      executionId: id,
      attempt: 1,
      at: new Date().toISOString(),
      ...update,
    });
}

export async function eventually<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise(r => setTimeout(r, 50));
  }
}
