import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { createTestDatabases } from '@internal/test-helpers';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import request from 'supertest';
import { infraControlPlanePlugin } from './plugin';
import {
  RUNTIME_PATH,
  createFakeProductControlPlane,
  makePlan,
  pluginHeader,
} from './__testUtils__';

jest.setTimeout(120_000);

const API = '/api/infra-control-plane';
const databases = createTestDatabases();

/** Callers that are not the product control plane. */
const strangers = [
  { who: 'plugin:catalog', header: pluginHeader('catalog') },
  { who: 'plugin:scaffolder', header: pluginHeader('scaffolder') },
  { who: 'plugin:marketplace', header: pluginHeader('marketplace') },
  {
    who: 'an external service token',
    header: mockCredentials.service.header(),
  },
  { who: 'a user', header: mockCredentials.user.header('user:default/ada') },
  // The mock httpAuth reads a request without a token as its default user
  // (the real one answers 401 in the credentials barrier): refused all the same.
  { who: 'no token', header: undefined },
];

describe.each(databases.eachSupportedId())(
  'infra control plane service routes on %p',
  databaseId => {
    let server: any;
    let backend: Awaited<ReturnType<typeof startTestBackend>>;
    const plan = makePlan();

    beforeAll(async () => {
      const knex = await databases.init(databaseId);
      backend = await startTestBackend({
        features: [
          infraControlPlanePlugin,
          catalogServiceMock.factory(),
          createFakeProductControlPlane().plugin,
          mockServices.database.factory({ knex }),
          mockServices.rootConfig.factory({
            data: {
              infraControlPlane: {
                executor: 'local',
                local: { runtimePath: RUNTIME_PATH, maxConcurrency: 1 },
              },
            },
          }),
        ],
      });
      server = backend.server;
    });

    afterAll(async () => {
      await backend?.stop();
    });

    const routes = [
      {
        route: 'POST /api/infra-control-plane/executions',
        call: (header?: string) => {
          const req = request(server).post(`${API}/executions`);
          return (header ? req.set('authorization', header) : req).send(plan);
        },
      },
      {
        route: 'GET /api/infra-control-plane/executions/:id',
        call: (header?: string) => {
          const req = request(server).get(
            `${API}/executions/${plan.executionId}`,
          );
          return header ? req.set('authorization', header) : req;
        },
      },
      {
        route: 'GET /api/infra-control-plane/executions/:id/logs',
        call: (header?: string) => {
          const req = request(server).get(
            `${API}/executions/${plan.executionId}/logs`,
          );
          return header ? req.set('authorization', header) : req;
        },
      },
      {
        route: 'POST /api/infra-control-plane/executions/:id/cancel',
        call: (header?: string) => {
          const req = request(server).post(
            `${API}/executions/${plan.executionId}/cancel`,
          );
          return header ? req.set('authorization', header) : req;
        },
      },
    ];

    it.each(routes.flatMap(r => strangers.map(s => ({ ...r, ...s }))))(
      '$route refuses $who',
      async ({ route, call, header }) => {
        const res = await call(header);
        expect(res.status).toBe(403);
        expect(res.body.error.message).toContain(
          `${route} may only be called by plugin:product-control-plane`,
        );
      },
    );

    it('has started nothing for the refused callers', async () => {
      const res = await routes[1].call(pluginHeader('product-control-plane'));
      expect(res.status).toBe(404);
    });

    it.each([
      [0, 202],
      [1, 200],
      [2, 200],
      [3, 202],
    ])(
      'route %p answers plugin:product-control-plane with %p',
      async (i, status) => {
        const res = await routes[i].call(pluginHeader('product-control-plane'));
        expect(res.status).toBe(status);
      },
    );
  },
);
