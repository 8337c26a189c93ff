import { mockCredentials } from '@backstage/backend-test-utils';
import { createTestDatabases } from '@internal/test-helpers';
import request from 'supertest';
import {
  agent,
  infraHeader,
  pluginHeader,
  startPlugin,
  userHeader,
} from './__testUtils__/harness';

jest.setTimeout(120_000);

const API = '/api/product-control-plane';
const databases = createTestDatabases();

/** Callers that are not the infra control plane. */
const strangers = [
  { who: 'plugin:catalog', header: pluginHeader('catalog'), status: 403 },
  { who: 'plugin:scaffolder', header: pluginHeader('scaffolder'), status: 403 },
  {
    who: 'plugin:marketplace',
    header: pluginHeader('marketplace'),
    status: 403,
  },
  {
    who: 'an external service token',
    header: mockCredentials.service.header(),
    status: 403,
  },
  { who: 'a user', header: userHeader('alice'), status: 403 },
  // The mock httpAuth reads a request without a token as its default user
  // (the real one answers 401 in the credentials barrier): refused all the same.
  { who: 'no token', header: undefined, status: 403 },
];

describe.each(databases.eachSupportedId())(
  'product control plane internal routes on %p',
  databaseId => {
    let server: any;
    let executionId: string;

    beforeAll(async () => {
      const knex = await databases.init(databaseId);
      ({ server } = await startPlugin({
        knex,
        entities: [agent('summarizer')],
      }));
      const created = await request(server)
        .post(`${API}/executions`)
        .set('authorization', userHeader('alice'))
        .send({ agentRef: 'agent:default/summarizer', input: { text: 'hi' } });
      if (created.status !== 202) {
        throw new Error(`could not create a run: ${created.text}`);
      }
      executionId = created.body.id;
    });

    const routes = () => [
      {
        route:
          'POST /api/product-control-plane/internal/executions/:id/updates',
        call: (header?: string, state = 'dispatched') => {
          const req = request(server).post(
            `${API}/internal/executions/${executionId}/updates`,
          );
          return (header ? req.set('authorization', header) : req).send({
            executionId,
            attempt: 1,
            state,
            at: new Date().toISOString(),
            result: { forged: true },
            computeSeconds: 1e9,
          });
        },
      },
      {
        route: 'GET /api/product-control-plane/internal/executions/:id/secrets',
        call: (header?: string, _state?: string) => {
          const req = request(server).get(
            `${API}/internal/executions/${executionId}/secrets`,
          );
          return header ? req.set('authorization', header) : req;
        },
      },
      {
        route:
          'GET /api/product-control-plane/internal/executions/:id/catalog-token',
        call: (header?: string, _state?: string) => {
          const req = request(server).get(
            `${API}/internal/executions/${executionId}/catalog-token`,
          );
          return header ? req.set('authorization', header) : req;
        },
      },
    ];

    it.each([
      [0, 200],
      [1, 200],
      [2, 200],
    ])(
      'route %p answers plugin:infra-control-plane with %p',
      async (i, status) => {
        const res = await routes()[i].call(infraHeader());
        expect(res.status).toBe(status);
      },
    );

    it.each([0, 1, 2].flatMap(i => strangers.map(s => ({ i, ...s }))))(
      'route $i refuses $who',
      async ({ i, header, status }) => {
        const { route, call } = routes()[i];
        // A forged result, if it got through, would end the run.
        const res = await call(header, 'succeeded');
        expect(res.status).toBe(status);
        expect(res.body.error.message).toContain(
          status === 403
            ? `${route} may only be called by plugin:infra-control-plane`
            : 'credentials',
        );
      },
    );

    it('leaves the run as it was after the refused updates', async () => {
      const res = await request(server)
        .get(`${API}/executions/${executionId}`)
        .set('authorization', userHeader('alice'));
      expect(res.body).toMatchObject({ state: 'dispatched' });
      expect(res.body.result).toBeUndefined();
    });
  },
);
