import { mockCredentials } from '@backstage/backend-test-utils';
import request from 'supertest';
import { makePlan } from './__testUtils__';
import { PCP_SERVICE, startLocalPlane } from './__testUtils__/localPlane';

jest.setTimeout(120_000);

describe('GET /capacity', () => {
  let plane: Awaited<ReturnType<typeof startLocalPlane>>;

  beforeAll(async () => {
    plane = await startLocalPlane({
      // The catalog shows the user one agent; the other is private to them.
      entities: [
        {
          apiVersion: 'agentplatform.dev/v1alpha1',
          kind: 'Agent',
          metadata: { name: 'summarizer', namespace: 'default' },
          spec: {},
        },
      ],
    });
    for (const agentRef of [
      'agent:default/summarizer',
      'agent:default/private-one',
    ]) {
      const done = await plane.run(makePlan({ agentRef }));
      if (done.state !== 'succeeded') {
        throw new Error(`the run of ${agentRef} ended ${done.state}`);
      }
    }
  });
  afterAll(() => plane?.stop());

  const agentsIn = (res: request.Response) =>
    res.body.agents.map((a: { agentRef: string }) => a.agentRef).sort();

  it('tells a user only about agents the catalog shows them', async () => {
    const user = mockCredentials.user.header('user:default/grace');
    const all = await request(plane.server)
      .get('/api/infra-control-plane/capacity')
      .set('authorization', user);
    expect(all.status).toBe(200);
    expect(agentsIn(all)).toEqual(['agent:default/summarizer']);

    const asked = await request(plane.server)
      .get(
        '/api/infra-control-plane/capacity?agentRef=agent:default/private-one',
      )
      .set('authorization', user);
    expect(asked.status).toBe(200);
    expect(asked.body.agents).toEqual([]);
  });

  it('tells the platform about every agent it has run', async () => {
    const all = await request(plane.server)
      .get('/api/infra-control-plane/capacity')
      .set('authorization', PCP_SERVICE);
    expect(agentsIn(all)).toEqual([
      'agent:default/private-one',
      'agent:default/summarizer',
    ]);
  });
});
