import {
  DEFAULT_EGRESS_PROXY_URL,
  EGRESS_CREDENTIAL_KEY,
  imagePullPolicyFor,
} from '@internal/plugin-infra-control-plane-node';
import { makePlan } from '../../__testUtils__';
import { platformOrigin } from '../egress';
import {
  buildAgentJob,
  buildHardenedJob,
  jobNameFor,
  labelSafe,
  runSecretNameFor,
} from './jobSpec';

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
      makePlan({
        secrets: [{ name: 'API_TOKEN', source: 'platform', ref: 'api-token' }],
      }),
      { namespace: 'runs', platformSecretName: 'platform-secrets' },
    );
    const text = JSON.stringify(job);
    expect(text).not.toMatch(/secretKeyRef/);
    expect(job.spec!.template.spec!.volumes).toContainEqual({
      name: 'secrets',
      projected: {
        defaultMode: 0o400,
        sources: [
          {
            secret: {
              name: 'platform-secrets',
              items: [{ key: 'api-token', path: 'API_TOKEN' }],
            },
          },
        ],
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
    expect(
      job.spec!.template.spec!.volumes!.find(v => v.name === 'secrets')!
        .projected!.sources,
    ).toEqual([
      {
        secret: {
          name: 'platform-secrets',
          items: [{ key: 'api-token', path: 'API_TOKEN' }],
        },
      },
      { secret: { name, items: [{ key: 'GH_TOKEN', path: 'GH_TOKEN' }] } },
    ]);
  });

  describe('image pull policy', () => {
    const digest = `sha256:${'ab12'.repeat(16)}`;
    const policyOf = (image: string, imagePullPolicy?: string) =>
      buildAgentJob(makePlan({ image }), {
        namespace: 'runs',
        platformSecretName: 'p',
        imagePullPolicy,
      }).spec!.template.spec!.containers[0].imagePullPolicy;

    it('pulls tag references every time (a tag can be moved), digests only if missing', () => {
      expect(policyOf('registry.example.com/agents/summarizer:1.4.0')).toBe(
        'Always',
      );
      expect(policyOf('registry.example.com/agents/summarizer')).toBe('Always');
      expect(policyOf('registry.example.com:5000/agents/x:latest')).toBe(
        'Always',
      );
      expect(policyOf(`registry.example.com/agents/summarizer@${digest}`)).toBe(
        'IfNotPresent',
      );
      expect(
        policyOf(`registry.example.com/agents/summarizer:1.4.0@${digest}`),
      ).toBe('IfNotPresent');
    });

    it('keeps an explicitly configured policy', () => {
      expect(policyOf('registry.example.com/agents/x:1.0.0', 'Never')).toBe(
        'Never',
      );
    });

    it('applies the same default to hardened Jobs built directly', () => {
      const job = (image: string) =>
        buildHardenedJob({
          name: 'j',
          namespace: 'runs',
          image,
          cpu: '100m',
          memory: '64Mi',
          deadlineSeconds: 60,
        }).spec!.template.spec!.containers[0].imagePullPolicy;
      expect(job('busybox:1.36')).toBe('Always');
      expect(job(`busybox@${digest}`)).toBe('IfNotPresent');
      expect(imagePullPolicyFor(`busybox@${digest}`)).toBe('IfNotPresent');
    });
  });

  it('labels with label-safe values and keeps the full refs in annotations', () => {
    const job = buildAgentJob(
      makePlan({ agentRef: 'agent:Default/My_Agent' }),
      {
        namespace: 'runs',
        platformSecretName: 'p',
      },
    );
    for (const value of Object.values(job.metadata!.labels!)) {
      expect(value.length).toBeLessThanOrEqual(63);
      expect(value).toMatch(DNS_LABEL);
    }
    expect(job.metadata!.annotations!['agentplatform.dev/agent-ref']).toBe(
      'agent:Default/My_Agent',
    );
    expect(labelSafe('My_Agent')).toMatch(DNS_LABEL);
  });

  describe('egress', () => {
    const envOf = (job: ReturnType<typeof buildAgentJob>) =>
      job.spec!.template.spec!.containers[0].env!;
    const valueOf = (job: ReturnType<typeof buildAgentJob>, name: string) =>
      envOf(job).find(e => e.name === name);
    const baseEnv = {
      AGENT_LLM_BASE_URL: 'http://llm-gateway.internal:8080/v1',
    };

    it('sends pods granted http through the egress proxy, the credential by secretKeyRef only', () => {
      const plan = makePlan({
        tools: [
          { name: 'http', allowHosts: ['api.github.com'] },
          { name: 'llm' },
          { name: 'catalog' },
        ],
      });
      const secretName = runSecretNameFor(plan.executionId, 1);
      const job = buildAgentJob(plan, {
        namespace: 'runs',
        platformSecretName: 'p',
        baseEnv,
        egressCredential: { secretName, key: EGRESS_CREDENTIAL_KEY },
      });
      expect(DEFAULT_EGRESS_PROXY_URL).toBe(
        'http://agent-egress.agent-platform.svc:3128',
      );
      expect(valueOf(job, 'AGENT_EGRESS_PROXY')).toEqual({
        name: 'AGENT_EGRESS_PROXY',
        value: DEFAULT_EGRESS_PROXY_URL,
      });
      expect(valueOf(job, 'AGENT_EGRESS_CREDENTIAL')).toEqual({
        name: 'AGENT_EGRESS_CREDENTIAL',
        valueFrom: {
          secretKeyRef: { name: secretName, key: EGRESS_CREDENTIAL_KEY },
        },
      });
      // The pod reaches nothing but the proxy: llm and catalog through its platform routes.
      expect(valueOf(job, 'AGENT_LLM_BASE_URL')!.value).toBe(
        platformOrigin('llm'),
      );
      expect(valueOf(job, 'AGENT_CATALOG_BASE_URL')!.value).toBe(
        platformOrigin('catalog'),
      );
      expect(envOf(job).filter(e => e.valueFrom)).toHaveLength(1);
      // The credential is not a mounted secret file either.
      expect(JSON.stringify(job.spec!.template.spec!.volumes)).not.toContain(
        EGRESS_CREDENTIAL_KEY,
      );
      expect(
        job.spec!.template.metadata!.labels!['agentplatform.dev/egress'],
      ).toBe('allowed');
    });

    it('takes the proxy URL from the option', () => {
      const job = buildAgentJob(
        makePlan({ tools: [{ name: 'http', allowHosts: [] }] }),
        {
          namespace: 'runs',
          platformSecretName: 'p',
          egressProxyUrl: 'http://egress.example.internal:8888',
        },
      );
      expect(valueOf(job, 'AGENT_EGRESS_PROXY')!.value).toBe(
        'http://egress.example.internal:8888',
      );
      expect(valueOf(job, 'AGENT_EGRESS_CREDENTIAL')).toBeUndefined();
    });

    it('leaves pods without http as they were: no proxy, no credential, llm endpoint from the config', () => {
      const job = buildAgentJob(makePlan({ tools: [{ name: 'llm' }] }), {
        namespace: 'runs',
        platformSecretName: 'p',
        baseEnv,
        egressCredential: {
          secretName: 'run-x-secrets',
          key: EGRESS_CREDENTIAL_KEY,
        },
      });
      expect(valueOf(job, 'AGENT_EGRESS_PROXY')).toBeUndefined();
      expect(valueOf(job, 'AGENT_EGRESS_CREDENTIAL')).toBeUndefined();
      expect(valueOf(job, 'AGENT_LLM_BASE_URL')!.value).toBe(
        baseEnv.AGENT_LLM_BASE_URL,
      );
      expect(JSON.stringify(job)).not.toMatch(/secretKeyRef/);
      expect(
        job.spec!.template.metadata!.labels!['agentplatform.dev/egress'],
      ).toBe('denied');
    });
  });
});
