import { randomBytes } from 'node:crypto';
import { makePlan } from '../../__testUtils__';
import { EgressCredentials } from './credentials';
import { egressGrantForPlan } from './grants';

describe('egressGrantForPlan', () => {
  it('grants the http allow-list and the platform routes of the granted llm and catalog tools, for the run’s time', () => {
    const plan = makePlan({
      tools: [
        { name: 'http', allowHosts: ['api.github.com', '*.example.com'] },
        { name: 'catalog' },
        { name: 'llm' },
      ],
      resources: { cpu: '250m', memory: '128Mi', timeoutSeconds: 60 },
    });
    const grant = egressGrantForPlan(plan, { now: 1_000_000 });
    expect(grant).toEqual({
      executionId: plan.executionId,
      allowHosts: ['api.github.com', '*.example.com'],
      expiresAt: 1_000_000 + (60 + 300) * 1000,
      platform: ['catalog', 'llm'],
    });
    // A grant the credentials accept as it is.
    const key = randomBytes(32);
    const credentials = new EgressCredentials(key, { now: () => 1_000_000 });
    expect(credentials.verify(credentials.issue(grant))).toMatchObject({
      ports: [80, 443],
    });
  });

  it('grants nothing to a run without network tools', () => {
    const grant = egressGrantForPlan(makePlan(), {
      now: 0,
      graceSeconds: 0,
      ports: [443],
    });
    expect(grant).toMatchObject({
      allowHosts: [],
      platform: [],
      ports: [443],
      expiresAt: 30_000,
    });
  });
});
