import request from 'supertest';
import { mockCredentials } from '@backstage/backend-test-utils';
import { createTestDatabases } from '@internal/test-helpers';
import {
  pluginHeader,
  startMarketplaceBackend,
} from './__testUtils__/testBackend';

jest.setTimeout(120_000);

const databases = createTestDatabases();

/** Every service-only route of the marketplace, the one plugin that may call it, and a valid request. */
const routes = [
  {
    route: 'POST /api/marketplace/entitlements/check',
    peer: 'product-control-plane',
    ok: 200,
    send: () => ({
      agentRef: 'agent:default/summarizer',
      userRef: 'user:default/ada',
      ownershipRefs: ['user:default/ada', 'group:default/ml-team'],
    }),
  },
  {
    route: 'POST /api/marketplace/usage',
    peer: 'product-control-plane',
    ok: 201,
    send: () => ({
      executionId: `peer-${Math.random().toString(36).slice(2)}`,
      agentRef: 'agent:default/summarizer',
      userRef: 'user:default/ada',
      holderRef: 'user:default/ada',
      plan: 'free',
      state: 'succeeded',
      finishedAt: new Date().toISOString(),
      computeSeconds: 1,
      cost: 0,
    }),
  },
  {
    route: 'GET /api/marketplace/visibility-overrides',
    peer: 'permission',
    ok: 200,
    send: () => undefined,
  },
];

/** Callers that are not the route's peer: other plugins, an external service, a user, nobody. */
const strangers = (peer: string) => [
  { who: 'plugin:catalog', header: pluginHeader('catalog'), status: 403 },
  { who: 'plugin:scaffolder', header: pluginHeader('scaffolder'), status: 403 },
  {
    who: 'the other peer plugin',
    header: pluginHeader(
      peer === 'permission' ? 'product-control-plane' : 'permission',
    ),
    status: 403,
  },
  {
    who: 'an external service token',
    header: mockCredentials.service.header(),
    status: 403,
  },
  {
    who: 'a user',
    header: mockCredentials.user.header('user:default/ada'),
    status: 403,
  },
  { who: 'no token', header: undefined, status: 401 },
];

describe.each(databases.eachSupportedId())(
  'marketplace peer-only routes on %s',
  databaseId => {
    let server: any;
    let backend: Awaited<ReturnType<typeof startMarketplaceBackend>>;

    beforeAll(async () => {
      const knex = await databases.init(databaseId);
      backend = await startMarketplaceBackend({ knex, entities: [] });
      server = backend.server;
    });

    afterAll(async () => {
      await backend?.stop();
    });

    const call = (route: string, header: string | undefined, body: unknown) => {
      const [method, path] = route.split(' ');
      let req =
        method === 'GET'
          ? request(server).get(path)
          : request(server).post(path);
      if (header) req = req.set('Authorization', header);
      return body === undefined ? req : req.send(body as object);
    };

    describe.each(routes)('$route', ({ route, peer, ok, send }) => {
      it(`answers plugin:${peer}`, async () => {
        const res = await call(route, pluginHeader(peer), send());
        expect(res.status).toBe(ok);
      });

      it.each(strangers(peer))('refuses $who', async ({ header, status }) => {
        const res = await call(route, header, send());
        expect(res.status).toBe(status);
        expect(res.body.error.message).toContain(
          status === 403
            ? `${route} may only be called by plugin:${peer}`
            : 'credentials',
        );
      });
    });
  },
);
