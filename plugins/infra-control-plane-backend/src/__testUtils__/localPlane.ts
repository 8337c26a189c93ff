import { Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { BackendFeature } from '@backstage/backend-plugin-api';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { Entity } from '@backstage/catalog-model';
import { ExecutionPlan } from '@internal/plugin-agents-common';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import request from 'supertest';
import { infraControlPlanePlugin } from '../plugin';
import {
  RUNTIME_PATH,
  createFakeProductControlPlane,
  updatesOf,
  waitFor,
} from '.';

/** The product control plane's token, the only caller of the execution routes. */
export const PCP_SERVICE = mockCredentials.service.header({
  onBehalfOf: mockCredentials.service('plugin:product-control-plane'),
  targetPluginId: 'infra-control-plane',
});

/**
 * The infra control plane as in production with the local executor (its
 * default sandbox and egress proxy), a stand-in product control plane, and
 * helpers to submit a plan and wait for its end.
 */
export async function startLocalPlane(options: {
  infraControlPlane?: Record<string, unknown>;
  features?: BackendFeature[];
  /** What the catalog holds (the entities any caller may see). */
  entities?: Entity[];
}) {
  const pcp = createFakeProductControlPlane();
  const backend = await startTestBackend({
    features: [
      infraControlPlanePlugin,
      catalogServiceMock.factory({ entities: options.entities ?? [] }),
      pcp.plugin,
      ...(options.features ?? []),
      mockServices.rootConfig.factory({
        data: {
          infraControlPlane: {
            executor: 'local',
            ...options.infraControlPlane,
            local: {
              runtimePath: RUNTIME_PATH,
              maxConcurrency: 2,
              killGraceSeconds: 1,
              timeoutGraceSeconds: 1,
            },
          },
        },
      }),
    ],
  });
  const server: Server = backend.server;
  /** Hands a plan to the plane; resolves with its execution id. */
  const start = async (plan: ExecutionPlan) => {
    await request(server)
      .post('/api/infra-control-plane/executions')
      .set('authorization', PCP_SERVICE)
      .send(plan)
      .expect(202);
    return plan.executionId;
  };
  /** The terminal update the product control plane received for a run. */
  const finished = (executionId: string) =>
    waitFor(
      () =>
        updatesOf(pcp.received, executionId).find(u =>
          ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(u.state),
        ),
      `the end of ${executionId}`,
      120_000,
    );
  /** The stored log messages of a run. */
  const logsOf = async (executionId: string): Promise<string[]> =>
    (
      await request(server)
        .get(`/api/infra-control-plane/executions/${executionId}/logs`)
        .set('authorization', PCP_SERVICE)
    ).body.lines.map((l: { message: string }) => l.message);
  return {
    stop: () => backend.stop(),
    server,
    port: (server.address() as AddressInfo).port,
    pcp,
    start,
    finished,
    /** Starts a plan and waits for its end. */
    run: async (plan: ExecutionPlan) => finished(await start(plan)),
    logsOf,
  };
}
