import { ConfigReader } from '@backstage/config';
import { createMockActionContext } from '@backstage/plugin-scaffolder-node-test-utils';
import {
  startTestCluster,
  TEST_CLUSTER_START_TIMEOUT_MS,
  TestCluster,
} from '@internal/test-helpers';
import { BatchV1Api, KubeConfig } from '@kubernetes/client-node';
import yaml from 'yaml';
import { createKubernetesJobCreateAction } from './kubernetesJobCreate';
import { examples } from './kubernetesJobCreate.examples';

jest.setTimeout(120_000);

function makeContext(input: any, extra: Record<string, unknown> = {}) {
  return { ...createMockActionContext({ input }), ...extra } as any;
}

describe('kubernetes:job:create refuses what is reserved for the platform', () => {
  // Refused before any cluster is asked: this kubeconfig points nowhere.
  const action = createKubernetesJobCreateAction({
    config: new ConfigReader({}),
    clusters: [
      {
        name: 'prod',
        namespace: 'agent-platform-runs',
        kubeConfig: new KubeConfig(),
      },
      { name: 'eu', namespace: 'agent-runs-eu', kubeConfig: new KubeConfig() },
    ],
  });
  const job = { name: 'build-x', image: 'registry.example.com/builder:1' };

  it.each([
    ['agentplatform.dev/egress', 'allowed'],
    ['agentplatform.dev/platform-api', 'allowed'],
    ['AgentPlatform.dev/execution-id', 'forged'],
    ['runtime.agentplatform.dev/role', 'agent'],
    ['app.kubernetes.io/managed-by', 'agent-platform-infra-control-plane'],
    ['kubernetes.io/metadata.name', 'agent-platform'],
    ['k8s.io/x', 'y'],
  ])('label %s', async (key, value) => {
    const ctx = makeContext({ ...job, labels: { team: 'data', [key]: value } });
    await expect(action.handler(ctx)).rejects.toThrow(
      `kubernetes:job:create: labels ${key} is reserved for the platform`,
    );
    expect(ctx.output).not.toHaveBeenCalled();
  });

  it('annotations in the reserved prefixes, all of them named', async () => {
    const ctx = makeContext({
      ...job,
      annotations: {
        'agentplatform.dev/execution-id': 'e1',
        'agentplatform.dev/requested-by': 'user:default/ada',
        note: 'ok',
      },
    });
    await expect(action.handler(ctx)).rejects.toThrow(
      'annotations agentplatform.dev/execution-id, agentplatform.dev/requested-by are reserved for the platform',
    );
  });

  it.each([
    'agent-platform',
    'kube-system',
    'kube-public',
    'kube-node-lease',
    'default',
    'agent-platform-runs',
    'agent-runs-eu',
  ])('namespace %s', async namespace => {
    const ctx = makeContext({ ...job, namespace });
    await expect(action.handler(ctx)).rejects.toThrow(
      `kubernetes:job:create: namespace ${namespace} is reserved for the platform; leave namespace out to run in the cluster's tasks namespace (agent-platform-tasks)`,
    );
    expect(ctx.output).not.toHaveBeenCalled();
  });

  it('refuses with an InputError (a 400 for the task, not a failure of the platform)', async () => {
    const ctx = makeContext({ ...job, namespace: 'kube-system' });
    await expect(action.handler(ctx)).rejects.toMatchObject({
      name: 'InputError',
    });
  });
});

describe('kubernetes:job:create against a real kube-apiserver', () => {
  let cluster: TestCluster;
  let ns: string;
  let tasksNs: string;
  let runsNs: string;
  let batch: BatchV1Api;
  let action: ReturnType<typeof createKubernetesJobCreateAction>;

  beforeAll(async () => {
    cluster = await startTestCluster();
    ns = await cluster.createNamespace('scaffolder-jobs', {
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    tasksNs = await cluster.createNamespace('platform-tasks', {
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
    runsNs = await cluster.createNamespace('runs-not-for-tasks', {
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    action = createKubernetesJobCreateAction({
      config: new ConfigReader({}),
      clusters: [
        {
          name: 'test',
          namespace: runsNs,
          kubeConfig: cluster.kubeConfig,
          // The task identity's namespace: where Jobs go by default.
          tasks: { namespace: ns, kubeConfig: cluster.kubeConfig },
        },
      ],
      pollIntervalMs: 200,
    });
  }, TEST_CLUSTER_START_TIMEOUT_MS);

  it('validates a hardened Job with a server-side dry run and creates nothing', async () => {
    const ctx = makeContext(
      { name: 'dry-task', image: 'busybox:1.36', args: ['true'] },
      { isDryRun: true },
    );
    await action.handler(ctx);
    expect(ctx.output).toHaveBeenCalledWith('status', 'dry-run');
    await expect(
      batch.readNamespacedJob({ name: 'dry-task', namespace: ns }),
    ).rejects.toMatchObject({ code: 404 });
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
    const job = await batch.readNamespacedJob({
      name: 'build-summarizer',
      namespace: ns,
    });
    const pod = job.spec!.template.spec!;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers[0].securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(job.spec!.activeDeadlineSeconds).toBe(600);
    // The tasks namespace, never the runs namespace.
    await expect(
      batch.readNamespacedJob({ name: 'build-summarizer', namespace: runsNs }),
    ).rejects.toMatchObject({ code: 404 });
    expect(job.metadata!.labels!['app.kubernetes.io/managed-by']).toBe(
      'agent-platform-scaffolder',
    );

    // Running the same step again (a retried task) does not fail on the existing Job.
    const again = makeContext({
      name: 'build-summarizer',
      image: 'registry.example.com/platform/agent-image-builder:1.0.0',
    });
    await action.handler(again);
    expect(again.output).toHaveBeenCalledWith('status', 'created');
  });

  it('creates a Job with labels and annotations of its own in a namespace of its own', async () => {
    const ctx = makeContext({
      name: 'task-own-keys',
      namespace: tasksNs,
      image: 'busybox:1.36',
      args: ['true'],
      labels: { 'example.com/team': 'data', tier: 'batch' },
      annotations: { 'example.com/ticket': 'OPS-1' },
    });
    await action.handler(ctx);
    const job = await batch.readNamespacedJob({
      name: 'task-own-keys',
      namespace: tasksNs,
    });
    expect(job.metadata!.labels).toMatchObject({
      'example.com/team': 'data',
      tier: 'batch',
      'app.kubernetes.io/managed-by': 'agent-platform-scaffolder',
    });
    expect(job.metadata!.annotations).toMatchObject({
      'example.com/ticket': 'OPS-1',
    });
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
        JSON.stringify(step.input).replace(
          /\$\{\{ parameters\.\w+ \}\}/g,
          'x1',
        ),
      );
      // The example's own namespace stands for one created for platform tasks.
      const ctx = makeContext(
        input.namespace ? { ...input, namespace: tasksNs } : input,
        { isDryRun: true },
      );
      await action.handler(ctx);
      expect(ctx.output).toHaveBeenCalledWith('status', 'dry-run');
    }
  });
});
