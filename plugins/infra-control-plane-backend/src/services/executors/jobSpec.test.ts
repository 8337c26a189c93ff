import { makePlan } from '../../__testUtils__';
import { buildAgentJob, jobNameFor, labelSafe, runSecretNameFor } from './jobSpec';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('jobNameFor', () => {
  it('is deterministic, DNS-safe and short enough for pod names', () => {
    const ids = [
      '7f8c2a9e-3b1d-4c5e-9f0a-1b2c3d4e5f60',
      'Exec_With.Dots_and_CAPS',
      'x'.repeat(200),
      '---',
    ];
    for (const id of ids) {
      const name = jobNameFor(id, 1);
      expect(name).toBe(jobNameFor(id, 1));
      expect(name).toMatch(DNS_LABEL);
      expect(name.length).toBeLessThanOrEqual(52);
    }
    expect(jobNameFor('7f8c2a9e-3b1d-4c5e-9f0a-1b2c3d4e5f60', 1)).toBe(
      'run-7f8c2a9e-3b1d-4c5e-9f0a-1b2c3d4e5f60',
    );
  });

  it('keeps distinct ids distinct, also when they only differ in case or attempt', () => {
    expect(jobNameFor('Run-A', 1)).not.toBe(jobNameFor('run-a', 1));
    expect(jobNameFor('abc', 1)).not.toBe(jobNameFor('abc', 2));
    const long = 'x'.repeat(200);
    expect(jobNameFor(`${long}a`, 1)).not.toBe(jobNameFor(`${long}b`, 1));
  });
});

describe('buildAgentJob', () => {
  it('puts no secret value and no inline secret env in the spec', () => {
    const job = buildAgentJob(
      makePlan({ secrets: [{ name: 'API_TOKEN', source: 'platform', ref: 'api-token' }] }),
      { namespace: 'runs', platformSecretName: 'platform-secrets' },
    );
    const text = JSON.stringify(job);
    expect(text).not.toMatch(/secretKeyRef/);
    expect(job.spec!.template.spec!.volumes).toContainEqual({
      name: 'secrets',
      projected: {
        defaultMode: 0o400,
        sources: [{ secret: { name: 'platform-secrets', items: [{ key: 'api-token', path: 'API_TOKEN' }] } }],
      },
    });
  });

  it('mounts user secrets from the run Secret, and only the resolved ones', () => {
    const plan = makePlan({
      executionId: 'Exec_1',
      secrets: [
        { name: 'API_TOKEN', source: 'platform', ref: 'api-token' },
        { name: 'GH_TOKEN', source: 'user', ref: 'ada/github' },
        { name: 'NOT_STORED', source: 'user', ref: 'ada/none' },
      ],
    });
    const name = runSecretNameFor(plan.executionId, 1);
    expect(name).toBe(`${jobNameFor('Exec_1', 1)}-secrets`);
    const job = buildAgentJob(plan, {
      namespace: 'runs',
      platformSecretName: 'platform-secrets',
      runSecret: { name, keys: ['GH_TOKEN'] },
    });
    expect(job.spec!.template.spec!.volumes!.find(v => v.name === 'secrets')!.projected!.sources).toEqual([
      { secret: { name: 'platform-secrets', items: [{ key: 'api-token', path: 'API_TOKEN' }] } },
      { secret: { name, items: [{ key: 'GH_TOKEN', path: 'GH_TOKEN' }] } },
    ]);
  });

  it('labels with label-safe values and keeps the full refs in annotations', () => {
    const job = buildAgentJob(makePlan({ agentRef: 'agent:Default/My_Agent' }), {
      namespace: 'runs',
      platformSecretName: 'p',
    });
    for (const value of Object.values(job.metadata!.labels!)) {
      expect(value.length).toBeLessThanOrEqual(63);
      expect(value).toMatch(DNS_LABEL);
    }
    expect(job.metadata!.annotations!['agentplatform.dev/agent-ref']).toBe('agent:Default/My_Agent');
    expect(labelSafe('My_Agent')).toMatch(DNS_LABEL);
  });
});
