import path from 'node:path';
import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import { mockCredentials } from '@backstage/backend-test-utils';
import { ExecutionPlan, ExecutionUpdate } from '@internal/plugin-agents-common';
import express from 'express';
import Router from 'express-promise-router';
import { BubblewrapSandbox } from '../services/executors/sandbox/BubblewrapSandbox';

/** The repository root (for catalog/agents and packages/agent-runtime). */
export const REPO_ROOT = path.resolve(__dirname, '../../../..');
export const RUNTIME_PATH = path.join(
  REPO_ROOT,
  'packages/agent-runtime/bin/agent-runtime.js',
);
/** The production sandbox with the defaults of createSandbox, for tests that build an executor by hand. */
export const testSandbox = () =>
  new BubblewrapSandbox({
    runtimePath: RUNTIME_PATH,
    scratchMiB: 64,
    maxProcesses: 64,
    uidBase: 810000,
    uidCount: 16,
  });
export const agentDir = (name: string) =>
  path.join(REPO_ROOT, 'catalog/agents', name);
export const fixtureDir = (name: string) =>
  path.join(__dirname, '../__fixtures__/agents', name);

/**
 * A stand-in product control plane: records the ExecutionUpdates it receives
 * (service auth only, like the real one) and can answer 503 to the first N.
 */
export function createFakeProductControlPlane() {
  const received: ExecutionUpdate[] = [];
  const state = { failNext: 0, refused: 0, unauthenticated: 0 };
  const userSecrets = new Map<string, Array<{ name: string; value: string }>>();
  /** executionId -> the requester's catalog token the product control plane keeps. */
  const catalogTokens = new Map<string, string>();
  const plugin = createBackendPlugin({
    pluginId: 'product-control-plane',
    register(env) {
      env.registerInit({
        deps: {
          httpRouter: coreServices.httpRouter,
          httpAuth: coreServices.httpAuth,
        },
        async init({ httpRouter, httpAuth }) {
          const router = Router();
          router.use(express.json());
          router.post('/internal/executions/:id/updates', async (req, res) => {
            try {
              await httpAuth.credentials(req, { allow: ['service'] });
            } catch (e) {
              state.unauthenticated += 1;
              throw e;
            }
            if (state.failNext > 0) {
              state.failNext -= 1;
              state.refused += 1;
              res.status(503).json({ error: 'not now' });
              return;
            }
            received.push(req.body);
            res.status(200).json({ ok: true });
          });
          router.get('/internal/executions/:id/secrets', async (req, res) => {
            await httpAuth.credentials(req, { allow: ['service'] });
            const secrets = userSecrets.get(req.params.id);
            if (!secrets) {
              res.status(404).json({ error: { message: 'no such execution' } });
              return;
            }
            res.json({ secrets });
          });
          router.get(
            '/internal/executions/:id/catalog-token',
            async (req, res) => {
              await httpAuth.credentials(req, { allow: ['service'] });
              const token = catalogTokens.get(req.params.id);
              if (!token) {
                res
                  .status(404)
                  .json({ error: { message: 'no catalog access' } });
                return;
              }
              res.json({
                token,
                expiresAt: new Date(Date.now() + 3600_000).toISOString(),
              });
            },
          );
          httpRouter.use(router);
        },
      });
    },
  });
  return { plugin, received, state, userSecrets, catalogTokens };
}

/** Updates received for one execution, in order. */
export function updatesOf(received: ExecutionUpdate[], executionId: string) {
  return received.filter(u => u.executionId === executionId);
}

/** Polls until `check` returns a truthy value or the time is up. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

let counter = 0;
/** A valid ExecutionPlan for a local agent folder. */
export function makePlan(
  overrides: Partial<ExecutionPlan> & { codeDir?: string } = {},
): ExecutionPlan {
  counter += 1;
  return {
    executionId: `exec-${process.pid}-${Date.now().toString(36)}-${counter}`,
    attempt: 1,
    agentRef: 'agent:default/summarizer',
    agentVersion: '1.4.0',
    image: 'registry.example.com/agents/summarizer:1.4.0',
    entrypoint: 'index.js',
    codeDir: agentDir('summarizer'),
    input: {
      text: 'The cat sat on the mat. The dog barked at the cat. Birds sang all morning. The cat slept.',
      sentences: 2,
    },
    tools: [],
    secrets: [],
    resources: { cpu: '250m', memory: '128Mi', timeoutSeconds: 30 },
    requestedBy: 'user:default/ada',
    plan: 'free',
    ...overrides,
  };
}

/** The service token another plugin's auth service would send to this one. */
export const pluginHeader = (pluginId: string) =>
  mockCredentials.service.header({
    onBehalfOf: mockCredentials.service(`plugin:${pluginId}`),
    targetPluginId: 'infra-control-plane',
  });
