import {
  ApiException,
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  V1Job,
  V1Pod,
  V1PodSpec,
} from '@kubernetes/client-node';
import {
  kwokPodAnnotations,
  startTestCluster,
  TEST_CLUSTER_START_TIMEOUT_MS,
  TestCluster,
} from './kubernetes';

const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted' };

/** A container spec that the restricted Pod Security level accepts. */
function restrictedPodSpec(): V1PodSpec {
  return {
    restartPolicy: 'Never',
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    containers: [
      {
        name: 'agent',
        image: 'agentplatform/agent-runtime:test',
        securityContext: {
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        },
      },
    ],
  };
}

function job(name: string, annotations: Record<string, string> = {}): V1Job {
  return {
    metadata: { name },
    spec: {
      backoffLimit: 0,
      template: { metadata: { annotations }, spec: restrictedPodSpec() },
    },
  };
}

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${lastError ? `: ${lastError}` : ''}`,
      );
    }
    await new Promise(resolve => setTimeout(resolve, 200));
  }
}

describe('Kubernetes test control plane', () => {
  let cluster: TestCluster;
  let core: CoreV1Api;
  let batch: BatchV1Api;

  beforeAll(async () => {
    cluster = await startTestCluster();
    core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  }, TEST_CLUSTER_START_TIMEOUT_MS);

  async function finishedJob(namespace: string, name: string) {
    return eventually(`job ${name} to finish`, async () => {
      const current = await batch.readNamespacedJobStatus({ name, namespace });
      const done = current.status?.conditions?.find(
        c =>
          (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
      );
      return done ? current : undefined;
    });
  }

  async function podsOf(namespace: string, jobName: string): Promise<V1Pod[]> {
    const list = await core.listNamespacedPod({
      namespace,
      labelSelector: `job-name=${jobName}`,
    });
    return list.items;
  }

  it('is a real API server reachable with the written kubeconfig', async () => {
    expect(cluster.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const fromFile = new KubeConfig();
    fromFile.loadFromFile(cluster.kubeconfigPath);
    const nodes = await fromFile.makeApiClient(CoreV1Api).listNode();
    expect(nodes.items.length).toBeGreaterThanOrEqual(1);
    for (const node of nodes.items) {
      const ready = node.status?.conditions?.find(c => c.type === 'Ready');
      expect(ready?.status).toBe('True');
    }
  });

  it('rejects a privileged pod in a namespace enforcing the restricted Pod Security level', async () => {
    const namespace = await cluster.createNamespace('psa', RESTRICTED);
    const privileged: V1Pod = {
      metadata: { name: 'privileged' },
      spec: {
        containers: [
          {
            name: 'main',
            image: 'busybox',
            securityContext: { privileged: true },
          },
        ],
      },
    };
    const rejection = await core
      .createNamespacedPod({ namespace, body: privileged })
      .then(
        () => undefined,
        error => error,
      );
    expect(rejection).toBeInstanceOf(ApiException);
    expect(rejection.code).toBe(403);
    expect(String(rejection.body)).toContain(
      'violates PodSecurity \\"restricted:latest\\"',
    );
    expect(String(rejection.body)).toContain('privileged');

    // The same namespace accepts a pod that meets the restricted level.
    const accepted = await core.createNamespacedPod({
      namespace,
      body: { metadata: { name: 'restricted' }, spec: restrictedPodSpec() },
    });
    expect(accepted.metadata?.uid).toBeTruthy();
  });

  it('runs a Job to completion through the Job controller, the scheduler and KWOK', async () => {
    const namespace = await cluster.createNamespace('job-ok', RESTRICTED);
    await batch.createNamespacedJob({
      namespace,
      body: job('hello', kwokPodAnnotations({ runningMs: 300 })),
    });

    const done = await finishedJob(namespace, 'hello');
    expect(done.status?.succeeded).toBe(1);
    expect(done.status?.conditions?.map(c => c.type)).toContain('Complete');

    const [pod] = await podsOf(namespace, 'hello');
    expect(pod.spec?.nodeName).toMatch(/^kwok-node-/);
    expect(pod.status?.phase).toBe('Succeeded');
    expect(pod.status?.containerStatuses?.[0].state?.terminated?.exitCode).toBe(
      0,
    );
  });

  it('fails the Job when its pod is marked to fail, with the requested exit code', async () => {
    const namespace = await cluster.createNamespace('job-fail', RESTRICTED);
    await batch.createNamespacedJob({
      namespace,
      body: job('broken', cluster.failPodAnnotations(3)),
    });

    const done = await finishedJob(namespace, 'broken');
    expect(done.status?.succeeded ?? 0).toBe(0);
    expect(done.status?.failed).toBe(1);
    const failed = done.status?.conditions?.find(c => c.type === 'Failed');
    expect(failed?.reason).toBe('BackoffLimitExceeded');

    const [pod] = await podsOf(namespace, 'broken');
    expect(pod.status?.phase).toBe('Failed');
    const terminated = pod.status?.containerStatuses?.[0].state?.terminated;
    expect(terminated?.exitCode).toBe(3);
    expect(terminated?.reason).toBe('Error');
  });

  it('serves fake container logs of a Job pod through the pods/log API', async () => {
    const namespace = await cluster.createNamespace('logs', RESTRICTED);
    const lines = [
      JSON.stringify({ tag: 'agentplatform.runtime/v1', type: 'started' }),
      JSON.stringify({ tag: 'agentplatform.runtime/v1', type: 'result' }),
    ];
    await cluster.setPodLogs({ namespace, lines });
    await batch.createNamespacedJob({ namespace, body: job('talker') });
    await finishedJob(namespace, 'talker');
    const [pod] = await podsOf(namespace, 'talker');

    const text = await eventually('pod logs', async () => {
      const log = await core.readNamespacedPodLog({
        name: pod.metadata!.name!,
        namespace,
        container: 'agent',
      });
      return log.length > 0 ? log : undefined;
    });
    expect(text.trim().split('\n')).toEqual(lines);

    // Logs can also be set for one pod, replacing the namespace-wide ones for it.
    await cluster.setPodLogs({
      namespace,
      podName: pod.metadata!.name!,
      lines: ['only for this pod'],
    });
    const own = await eventually('per-pod logs', async () => {
      const log = await core.readNamespacedPodLog({
        name: pod.metadata!.name!,
        namespace,
      });
      return log.includes('only for this pod') ? log : undefined;
    });
    expect(own.trim()).toBe('only for this pod');
  });

  it('deletes a finished Job after its TTL (ttl-after-finished controller and garbage collector)', async () => {
    const namespace = await cluster.createNamespace('ttl');
    const body = job('short-lived');
    // Long enough to see it finished first, short enough for a test.
    body.spec!.ttlSecondsAfterFinished = 3;
    await batch.createNamespacedJob({ namespace, body });
    await finishedJob(namespace, 'short-lived');
    const jobsLeft = await eventually('the job to be deleted', async () => {
      const jobs = await batch.listNamespacedJob({ namespace });
      return jobs.items.length === 0 ? jobs.items : undefined;
    });
    expect(jobsLeft).toEqual([]);
    const podsLeft = await eventually('its pods to be deleted', async () => {
      const pods = await podsOf(namespace, 'short-lived');
      return pods.length === 0 ? pods : undefined;
    });
    expect(podsLeft).toEqual([]);
  });

  it('enforces RBAC for service accounts', async () => {
    const namespace = await cluster.createNamespace('rbac');
    await core.createNamespacedServiceAccount({
      namespace,
      body: { metadata: { name: 'nobody' } },
    });
    const token = await core.createNamespacedServiceAccountToken({
      name: 'nobody',
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const asNobody = new KubeConfig();
    asNobody.loadFromOptions({
      clusters: [
        {
          name: 'test',
          server: cluster.server,
          caData: cluster.kubeConfig.getCurrentCluster()!.caData,
        },
      ],
      users: [{ name: 'nobody', token: token.status!.token }],
      contexts: [{ name: 'test', cluster: 'test', user: 'nobody' }],
      currentContext: 'test',
    });
    const denied = await asNobody
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace })
      .then(
        () => undefined,
        error => error,
      );
    expect(denied).toBeInstanceOf(ApiException);
    expect(denied.code).toBe(403);
    expect(String(denied.body)).toContain(
      `system:serviceaccount:${namespace}:nobody`,
    );
  });
});
