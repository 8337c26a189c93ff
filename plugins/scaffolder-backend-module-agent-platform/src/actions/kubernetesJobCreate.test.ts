import { ConfigReader } from '@backstage/config';
import { createMockActionContext } from '@backstage/plugin-scaffolder-node-test-utils';
import {
  startTestCluster,
  TEST_CLUSTER_START_TIMEOUT_MS,
  TestCluster,
} from '@internal/test-helpers';
import { BatchV1Api } from '@kubernetes/client-node';
import yaml from 'yaml';
import { createKubernetesJobCreateAction } from './kubernetesJobCreate';
import { examples } from './kubernetesJobCreate.examples';

jest.setTimeout(120_000);

function makeContext(input: any, extra: Record<string, unknown> = {}) {
  return { ...createMockActionContext({ input }), ...extra } as any;
}

describe('kubernetes:job:create against a real kube-apiserver', () => {
  let cluster: TestCluster;
  let ns: string;
  let batch: BatchV1Api;
  let action: ReturnType<typeof createKubernetesJobCreateAction>;

  beforeAll(async () => {
    cluster = await startTestCluster();
    ns = await cluster.createNamespace('scaffolder-jobs', {
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
    action = createKubernetesJobCreateAction({
      config: new ConfigReader({}),
      clusters: [{ name: 'test', namespace: ns, kubeConfig: cluster.kubeConfig }],
      pollIntervalMs: 200,
    });
  }, TEST_CLUSTER_START_TIMEOUT_MS);

  it('validates a hardened Job with a server-side dry run and creates nothing', async () => {
    const ctx = makeContext({ name: 'dry-task', image: 'busybox:1.36', args: ['true'] }, { isDryRun: true });
    await action.handler(ctx);
    expect(ctx.output).toHaveBeenCalledWith('status', 'dry-run');
    await expect(batch.readNamespacedJob({ name: 'dry-task', namespace: ns })).rejects.toMatchObject({ code: 404 });
  });

  it('creates a Job that restricted Pod Security admits and waits for it to complete', async () => {
    const ctx = makeContext({
      name: 'build-summarizer',
      image: 'registry.example.com/platform/agent-image-builder:1.0.0',
      args: ['--context=git://example/summarizer.git'],
      env: { BUILD_KIND: 'agent' },
      cpu: '250m',
      memory: '256Mi',
      timeoutSeconds: 600,
      wait: true,
    });
    await action.handler(ctx);
    expect(ctx.output).toHaveBeenCalledWith('status', 'succeeded');
    const job = await batch.readNamespacedJob({ name: 'build-summarizer', namespace: ns });
    const pod = job.spec!.template.spec!;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers[0].securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(job.spec!.activeDeadlineSeconds).toBe(600);
    expect(job.metadata!.labels!['app.kubernetes.io/managed-by']).toBe('agent-platform-scaffolder');

    // Running the same step again (a retried task) does not fail on the existing Job.
    const again = makeContext({ name: 'build-summarizer', image: 'registry.example.com/platform/agent-image-builder:1.0.0' });
    await action.handler(again);
    expect(again.output).toHaveBeenCalledWith('status', 'created');
  });

  it('names an unknown cluster', async () => {
    const ctx = makeContext({ name: 'x', image: 'busybox', cluster: 'nope' });
    await expect(action.handler(ctx)).rejects.toThrow('No cluster named nope');
  });

  it('has examples the cluster accepts (server-side dry run)', async () => {
    for (const example of examples) {
      const step = yaml.parse(example.example).steps[0];
      expect(step.action).toBe('kubernetes:job:create');
      const input = JSON.parse(
        JSON.stringify(step.input).replace(/\$\{\{ parameters\.\w+ \}\}/g, 'x1'),
      );
      const ctx = makeContext({ ...input, namespace: ns }, { isDryRun: true });
      await action.handler(ctx);
      expect(ctx.output).toHaveBeenCalledWith('status', 'dry-run');
    }
  });
});
