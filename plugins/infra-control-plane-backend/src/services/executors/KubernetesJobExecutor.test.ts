import { TestDatabases } from '@backstage/backend-test-utils';
import {
  kwokPodAnnotations,
  startTestCluster,
  TEST_CLUSTER_START_TIMEOUT_MS,
  TestCluster,
} from '@internal/test-helpers';
import { ExecutionPlan } from '@internal/plugin-agents-common';
import { BatchV1Api, CoreV1Api, V1Job } from '@kubernetes/client-node';
import { ExecutionStore } from '../../database/ExecutionStore';
import { makePlan, waitFor } from '../../__testUtils__';
import {
  kubeConfigVia,
  runtimeLogLines,
  startCuttableProxy,
  startKubernetesPlane,
} from '../../__testUtils__/kubernetes';
import {
  buildAgentJob,
  jobNameFor,
  LABELS,
  MANAGED_BY,
  runSecretNameFor,
} from './jobSpec';

jest.setTimeout(180_000);

const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted' };

describe('KubernetesJobExecutor against a real kube-apiserver (KWOK kubelets)', () => {
  let cluster: TestCluster;
  let batch: BatchV1Api;
  let core: CoreV1Api;
  let store: ExecutionStore;
  let ns: string;
  const behaviours = new Map<string, Record<string, string>>();
  const podAnnotations = (plan: ExecutionPlan) =>
    behaviours.get(plan.executionId) ?? {};
  const databases = TestDatabases.create({
    ids: ['SQLITE_3'],
    disableDocker: true,
  });

  const jobsOf = async (namespace: string, executionId: string) =>
    (
      await batch.listNamespacedJob({
        namespace,
        labelSelector: `${LABELS.executionId}=${executionId}`,
      })
    ).items;

  const podsOf = async (namespace: string, jobName: string) =>
    (
      await core.listNamespacedPod({
        namespace,
        labelSelector: `job-name=${jobName}`,
      })
    ).items;

  const finalState = (id: string, timeoutMs = 60_000) =>
    waitFor(
      async () => {
        const r = await store.get(id);
        return (
          r &&
          ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(r.state) &&
          r
        );
      },
      `execution ${id} to end`,
      timeoutMs,
    );

  beforeAll(async () => {
    cluster = await startTestCluster();
    batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
    core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    ns = await cluster.createNamespace('icp-exec', RESTRICTED);
    await cluster.setPodLogs({
      namespace: ns,
      lines: runtimeLogLines({ summary: 'from the pod', sentences: 1 }),
    });
    const knex = await databases.init('SQLITE_3');
    store = new ExecutionStore(knex);
    await knex.migrate.latest({
      directory: require('node:path').resolve(__dirname, '../../../migrations'),
    });
  }, TEST_CLUSTER_START_TIMEOUT_MS);

  it('creates a hardened Job that restricted Pod Security admits, and drives it to succeeded with the pod logs and result', async () => {
    const plane = await startKubernetesPlane({
      store,
      kubeConfig: cluster.kubeConfig,
      namespace: ns,
      podAnnotations,
    });
    try {
      const plan = makePlan();
      const { created } = await plane.manager.submit(plan);
      expect(created).toBe(true);
      // A repeated dispatch changes nothing.
      expect((await plane.manager.submit(plan)).created).toBe(false);

      const record = await finalState(plan.executionId);
      expect(record).toMatchObject({
        state: 'succeeded',
        exitCode: 0,
        result: { summary: 'from the pod', sentences: 1 },
        jobName: jobNameFor(plan.executionId, 1),
        cluster: 'test',
      });
      const jobs = await jobsOf(ns, plan.executionId);
      expect(jobs).toHaveLength(1);
      const job = jobs[0];
      const pod = job.spec!.template.spec!;
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 10001,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.containers[0].securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(pod.containers[0].resources).toEqual({
        requests: { cpu: '250m', memory: '128Mi' },
        limits: { cpu: '250m', memory: '128Mi' },
      });
      expect(job.spec!.activeDeadlineSeconds).toBe(31);
      expect(job.spec!.template.metadata!.labels![LABELS.egress]).toBe(
        'denied',
      );
      expect(job.metadata!.annotations!['agentplatform.dev/requested-by']).toBe(
        'user:default/ada',
      );

      const logs = await store.readLogs(plan.executionId, 0, 100);
      // Live-streamed and final read together: every line exactly once.
      expect(logs.filter(l => l.message === 'hello from the pod')).toHaveLength(
        1,
      );
      expect(logs.filter(l => l.message === 'result received')).toHaveLength(1);
      expect(
        plane.received
          .filter(u => u.executionId === plan.executionId)
          .map(u => u.state),
      ).toEqual(expect.arrayContaining(['dispatched', 'succeeded']));
      // Per run: one create, at most a live log stream + one final log read; watching is shared.
      expect(plane.executor.apiCalls.create).toBe(1);
      expect(plane.executor.apiCalls.log).toBeGreaterThanOrEqual(1);
      expect(plane.executor.apiCalls.log).toBeLessThanOrEqual(2);
      expect(plane.executor.apiCalls.delete).toBe(0);
    } finally {
      await plane.stop();
    }
  });

  it('mounts granted secrets from a Secret by reference, never values, and labels egress when http is granted', async () => {
    const plan = makePlan({
      tools: [{ name: 'http', allowHosts: ['api.example.com'] }],
      secrets: [
        { name: 'OPENAI_API_KEY', source: 'platform', ref: 'openai' },
        { name: 'GH_TOKEN', source: 'user', ref: 'user-ada-secrets/github' },
      ],
    });
    const job = buildAgentJob(plan, {
      namespace: ns,
      platformSecretName: 'agent-platform-secrets',
    });
    const created = await batch.createNamespacedJob({
      namespace: ns,
      body: job,
      dryRun: 'All',
    });
    const spec = created.spec!.template.spec!;
    expect(spec.volumes).toContainEqual(
      expect.objectContaining({
        name: 'secrets',
        projected: expect.objectContaining({
          sources: [
            {
              secret: {
                name: 'agent-platform-secrets',
                items: [{ key: 'openai', path: 'OPENAI_API_KEY' }],
              },
            },
            {
              secret: {
                name: 'user-ada-secrets',
                items: [{ key: 'github', path: 'GH_TOKEN' }],
              },
            },
          ],
        }),
      }),
    );
    expect(created.spec!.template.metadata!.labels![LABELS.egress]).toBe(
      'allowed',
    );
    const env = spec.containers[0].env!;
    expect(env.find(e => e.name === 'AGENT_SECRETS_DIR')!.value).toBe(
      '/var/run/agentplatform/secrets',
    );
    expect(env.every(e => !e.valueFrom)).toBe(true);
  });

  describe('user secrets in a per-execution Secret', () => {
    const VALUE = 'ghp-very-secret-value-4242';
    const userSecrets = new Map<string, Record<string, string>>();
    const userPlan = () => {
      const plan = makePlan({
        secrets: [
          { name: 'OPENAI_API_KEY', source: 'platform', ref: 'openai' },
          { name: 'GH_TOKEN', source: 'user', ref: 'ada/github' },
          { name: 'NOT_STORED', source: 'user', ref: 'ada/none' },
        ],
      });
      userSecrets.set(plan.executionId, { GH_TOKEN: VALUE });
      return plan;
    };
    const readSecret = (name: string) =>
      core.readNamespacedSecret({ name, namespace: ns }).catch(e => {
        if (e.code === 404) return undefined;
        throw e;
      });

    it('creates it owned by the Job while the run goes, never puts a value in the Job, and the GC deletes it with the Job', async () => {
      const plane = await startKubernetesPlane({
        store,
        kubeConfig: cluster.kubeConfig,
        namespace: ns,
        podAnnotations,
        userSecrets,
      });
      try {
        const plan = userPlan();
        behaviours.set(
          plan.executionId,
          kwokPodAnnotations({ runningMs: 3000 }),
        );
        await plane.manager.submit(plan);
        await waitFor(
          async () => (await store.get(plan.executionId))?.state === 'running',
          'running',
          60_000,
        );
        const name = runSecretNameFor(plan.executionId, 1);
        const secret = (await readSecret(name))!;
        expect(Object.keys(secret.data!)).toEqual(['GH_TOKEN']);
        expect(
          Buffer.from(secret.data!.GH_TOKEN, 'base64').toString('utf8'),
        ).toBe(VALUE);
        expect(secret.immutable).toBe(true);
        expect(secret.metadata!.labels).toMatchObject({
          [LABELS.managedBy]: MANAGED_BY,
          [LABELS.executionId]: plan.executionId,
        });
        const [job] = await jobsOf(ns, plan.executionId);
        expect(secret.metadata!.ownerReferences).toEqual([
          expect.objectContaining({
            kind: 'Job',
            name: job.metadata!.name,
            uid: job.metadata!.uid,
          }),
        ]);
        // The Job refers to it by name; no value, and the unresolved secret is not mounted.
        expect(JSON.stringify(job)).not.toContain(VALUE);
        expect(JSON.stringify(job)).not.toContain(
          Buffer.from(VALUE).toString('base64'),
        );
        const volume = job.spec!.template.spec!.volumes!.find(
          v => v.name === 'secrets',
        )!;
        expect(volume.projected!.sources).toEqual([
          {
            secret: {
              name: 'agent-platform-secrets',
              items: [{ key: 'openai', path: 'OPENAI_API_KEY' }],
            },
          },
          { secret: { name, items: [{ key: 'GH_TOKEN', path: 'GH_TOKEN' }] } },
        ]);
        // A repeated dispatch changes nothing.
        expect((await plane.manager.submit(plan)).created).toBe(false);
        expect((await finalState(plan.executionId)).state).toBe('succeeded');
        expect(plane.executor.apiCalls.secretCreate).toBe(1);

        // As the TTL controller does after ttlSecondsAfterFinished.
        await batch.deleteNamespacedJob({
          name: job.metadata!.name!,
          namespace: ns,
          propagationPolicy: 'Background',
        });
        await waitFor(
          async () => !(await readSecret(name)),
          'the garbage collector to delete the Secret',
          60_000,
        );
      } finally {
        await plane.stop();
      }
    });

    it('cancel deletes the Secret with the Job', async () => {
      const plane = await startKubernetesPlane({
        store,
        kubeConfig: cluster.kubeConfig,
        namespace: ns,
        podAnnotations,
        userSecrets,
      });
      try {
        const plan = userPlan();
        behaviours.set(
          plan.executionId,
          kwokPodAnnotations({ runningMs: 120_000 }),
        );
        await plane.manager.submit(plan);
        await waitFor(
          async () => (await store.get(plan.executionId))?.state === 'running',
          'running',
          60_000,
        );
        const name = runSecretNameFor(plan.executionId, 1);
        expect(await readSecret(name)).toBeDefined();
        await plane.manager.cancel(plan.executionId);
        expect((await finalState(plan.executionId)).state).toBe('cancelled');
        await waitFor(
          async () => !(await readSecret(name)),
          'the Secret to be gone',
          30_000,
        );
        expect(plane.executor.apiCalls.secretDelete).toBeGreaterThanOrEqual(1);
      } finally {
        await plane.stop();
      }
    });

    it('after a crash between the Job and its Secret, the restarted plugin creates the Secret once; a second restart finds it (409)', async () => {
      const plan = userPlan();
      behaviours.set(plan.executionId, kwokPodAnnotations({ runningMs: 6000 }));
      await store.insert(plan, 'kubernetes');
      const name = runSecretNameFor(plan.executionId, 1);
      await batch.createNamespacedJob({
        namespace: ns,
        body: buildAgentJob(plan, {
          namespace: ns,
          platformSecretName: 'agent-platform-secrets',
          podAnnotations: podAnnotations(plan),
          runSecret: { name, keys: ['GH_TOKEN'] },
        }),
      });
      const first = await startKubernetesPlane({
        store,
        kubeConfig: cluster.kubeConfig,
        namespace: ns,
        podAnnotations,
        userSecrets,
      });
      await waitFor(async () => readSecret(name), 'the Secret', 30_000);
      expect(first.executor.apiCalls.create).toBe(0);
      await first.stop();
      const second = await startKubernetesPlane({
        store,
        kubeConfig: cluster.kubeConfig,
        namespace: ns,
        podAnnotations,
        userSecrets,
      });
      try {
        expect((await finalState(plan.executionId)).state).toBe('succeeded');
        expect(second.executor.apiCalls.create).toBe(0);
        const secrets = await core.listNamespacedSecret({
          namespace: ns,
          labelSelector: `${LABELS.executionId}=${plan.executionId}`,
        });
        expect(secrets.items.map(x => x.metadata!.name)).toEqual([name]);
        expect(
          Buffer.from(secrets.items[0].data!.GH_TOKEN, 'base64').toString(
            'utf8',
          ),
        ).toBe(VALUE);
      } finally {
        await second.stop();
      }
    });
  });

  it('a failing agent fails the Job at once (podFailurePolicy), with no infra retry', async () => {
    const plane = await startKubernetesPlane({
      store,
      kubeConfig: cluster.kubeConfig,
      namespace: ns,
      podAnnotations,
    });
    try {
      const plan = makePlan();
      behaviours.set(
        plan.executionId,
        kwokPodAnnotations({ fail: true, exitCode: 1 }),
      );
      await plane.manager.submit(plan);
      const record = await finalState(plan.executionId);
      expect(record).toMatchObject({
        state: 'failed',
        exitCode: 1,
        exitReason: 'agent-error',
      });
      const pods = await podsOf(ns, jobNameFor(plan.executionId, 1));
      expect(pods).toHaveLength(1);
    } finally {
      await plane.stop();
    }
  });

  it('cancel deletes the Job (foreground) and records cancelled', async () => {
    const plane = await startKubernetesPlane({
      store,
      kubeConfig: cluster.kubeConfig,
      namespace: ns,
      podAnnotations,
    });
    try {
      const plan = makePlan();
      behaviours.set(
        plan.executionId,
        kwokPodAnnotations({ runningMs: 120_000 }),
      );
      await plane.manager.submit(plan);
      await waitFor(
        async () => (await store.get(plan.executionId))?.state === 'running',
        'running',
        60_000,
      );
      await plane.manager.cancel(plan.executionId);
      const record = await finalState(plan.executionId);
      expect(record.state).toBe('cancelled');
      await waitFor(
        async () => (await jobsOf(ns, plan.executionId)).length === 0,
        'the Job to be gone',
      );
      expect(plane.executor.apiCalls.delete).toBe(1);
    } finally {
      await plane.stop();
    }
  });

  it('a run past its deadline ends timed_out (DeadlineExceeded), not failed', async () => {
    const plane = await startKubernetesPlane({
      store,
      kubeConfig: cluster.kubeConfig,
      namespace: ns,
      podAnnotations,
    });
    try {
      const plan = makePlan({
        resources: { cpu: '100m', memory: '64Mi', timeoutSeconds: 1 },
      });
      behaviours.set(
        plan.executionId,
        kwokPodAnnotations({ runningMs: 120_000 }),
      );
      await plane.manager.submit(plan);
      const record = await finalState(plan.executionId);
      expect(record).toMatchObject({
        state: 'timed_out',
        exitReason: 'deadline-exceeded',
      });
    } finally {
      await plane.stop();
    }
  });

  it('a restarted plugin reconciles in-flight runs without creating a second Job', async () => {
    const first = await startKubernetesPlane({
      store,
      kubeConfig: cluster.kubeConfig,
      namespace: ns,
      podAnnotations,
    });
    const plan = makePlan();
    behaviours.set(plan.executionId, kwokPodAnnotations({ runningMs: 4000 }));
    await first.manager.submit(plan);
    await waitFor(
      async () => (await store.get(plan.executionId))?.dispatched,
      'dispatched',
      60_000,
    );
    await first.stop();

    // Crash between "Job created" and "record says dispatched": the Job exists,
    // the record is still queued.
    const orphan = makePlan();
    await store.insert(orphan, 'kubernetes');
    await batch.createNamespacedJob({
      namespace: ns,
      body: buildAgentJob(orphan, { namespace: ns, platformSecretName: 'x' }),
    });

    const second = await startKubernetesPlane({
      store,
      kubeConfig: cluster.kubeConfig,
      namespace: ns,
      podAnnotations,
    });
    try {
      expect((await finalState(plan.executionId)).state).toBe('succeeded');
      expect((await finalState(orphan.executionId)).state).toBe('succeeded');
      expect(second.executor.apiCalls.create).toBe(0);
      expect(await jobsOf(ns, plan.executionId)).toHaveLength(1);
      expect(await jobsOf(ns, orphan.executionId)).toHaveLength(1);
    } finally {
      await second.stop();
    }
  });

  it('a repeated dispatch of an existing Job reads it (409) instead of creating a second', async () => {
    const plane = await startKubernetesPlane({
      store,
      kubeConfig: cluster.kubeConfig,
      namespace: ns,
      podAnnotations,
    });
    try {
      const plan = makePlan();
      behaviours.set(plan.executionId, kwokPodAnnotations({ runningMs: 1500 }));
      // The Job exists (an earlier dispatch) but this executor has no record of it.
      await batch.createNamespacedJob({
        namespace: ns,
        body: buildAgentJob(plan, {
          namespace: ns,
          platformSecretName: 'x',
          podAnnotations: podAnnotations(plan),
        }),
      });
      await store.insert(plan, 'kubernetes');
      await plane.executor.run(plan);
      expect((await finalState(plan.executionId)).state).toBe('succeeded');
      expect(await jobsOf(ns, plan.executionId)).toHaveLength(1);
      expect(plane.executor.apiCalls.create).toBe(1);
      expect(plane.executor.apiCalls.read).toBe(1);
    } finally {
      await plane.stop();
    }
  });

  it('an unreachable apiserver delays runs but loses none', async () => {
    const proxy = await startCuttableProxy(cluster.server);
    const plane = await startKubernetesPlane({
      store,
      kubeConfig: kubeConfigVia(cluster.kubeConfig, proxy.url),
      namespace: ns,
      podAnnotations,
    });
    try {
      // In flight when the connection drops: it finishes during the outage.
      const inflight = makePlan();
      behaviours.set(
        inflight.executionId,
        kwokPodAnnotations({ runningMs: 1500 }),
      );
      await plane.manager.submit(inflight);
      await waitFor(
        async () => (await store.get(inflight.executionId))?.dispatched,
        'dispatched',
        60_000,
      );

      await proxy.cut();
      // Submitted while unreachable.
      const during = makePlan();
      await plane.manager.submit(during);
      expect((await plane.executor.health()).ok).toBe(false);
      await new Promise(r => setTimeout(r, 4000));
      expect((await store.get(during.executionId))!.state).toBe('queued');
      expect(await jobsOf(ns, during.executionId)).toHaveLength(0);

      await proxy.restore();
      expect((await finalState(inflight.executionId)).state).toBe('succeeded');
      expect((await finalState(during.executionId)).state).toBe('succeeded');
      expect(await jobsOf(ns, during.executionId)).toHaveLength(1);
      expect((await plane.executor.health()).ok).toBe(true);
    } finally {
      await plane.stop();
      await proxy.close();
    }
  });

  it('labels every Job so one label-selected watch sees them all', async () => {
    const jobs: V1Job[] = (
      await batch.listNamespacedJob({
        namespace: ns,
        labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY}`,
      })
    ).items;
    expect(jobs.length).toBeGreaterThanOrEqual(5);
  });
});
