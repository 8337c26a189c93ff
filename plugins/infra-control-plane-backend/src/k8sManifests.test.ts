import fs from 'node:fs';
import path from 'node:path';
import { TestDatabases } from '@backstage/backend-test-utils';
import {
  kwokPodAnnotations,
  startTestCluster,
  TEST_CLUSTER_START_TIMEOUT_MS,
  TestCluster,
} from '@internal/test-helpers';
import {
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from '@kubernetes/client-node';
import yaml from 'yaml';
import { ExecutionStore } from './database/ExecutionStore';
import { makePlan, REPO_ROOT, waitFor } from './__testUtils__';
import { runtimeLogLines, startKubernetesPlane } from './__testUtils__/kubernetes';
import { runSecretNameFor } from './services/executors/jobSpec';

jest.setTimeout(180_000);

const K8S_DIR = path.join(REPO_ROOT, 'k8s');
const PORTAL_NS = 'agent-platform';
const RUNS_NS = 'agent-platform-runs';
const FIELD_MANAGER = 'agent-platform-tests';

function manifests(): KubernetesObject[] {
  return fs
    .readdirSync(K8S_DIR)
    .filter(f => f.endsWith('.yaml') && f !== 'skaffold.yaml')
    .sort()
    .flatMap(f =>
      yaml
        .parseAllDocuments(fs.readFileSync(path.join(K8S_DIR, f), 'utf8'))
        .map(d => d.toJSON())
        .filter(Boolean),
    );
}

describe('k8s/ manifests against a real kube-apiserver', () => {
  let cluster: TestCluster;
  let objects: KubernetesObjectApi;
  let core: CoreV1Api;
  const all = manifests();

  const apply = (obj: KubernetesObject, dryRun?: 'All') =>
    objects.patch(obj, undefined, dryRun, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);

  beforeAll(async () => {
    cluster = await startTestCluster();
    objects = KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
    const api = cluster.kubeConfig.makeApiClient(CoreV1Api);
    core = api;
    // A previous run's namespaces may still be terminating.
    const gone = (name: string) =>
      api.readNamespace({ name }).then(
        () => false,
        () => true,
      );
    for (const name of [PORTAL_NS, RUNS_NS]) {
      await waitFor(() => gone(name), `namespace ${name} from an earlier run to be gone`, 120_000);
    }
  }, TEST_CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    for (const name of [RUNS_NS, PORTAL_NS]) {
      await core.deleteNamespace({ name }).catch(() => undefined);
    }
  });

  it('has the objects the design asks for', () => {
    const kinds = all.map(o => `${o.kind}/${o.metadata?.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'Namespace/agent-platform',
        'Namespace/agent-platform-runs',
        'ServiceAccount/agent-platform-portal',
        'Role/agent-platform-job-runner',
        'RoleBinding/agent-platform-job-runner',
        'NetworkPolicy/default-deny-all',
        'NetworkPolicy/allow-egress-when-http-granted',
        'ResourceQuota/agent-runs',
        'LimitRange/agent-runs',
        'Deployment/agent-platform-portal',
        'Service/agent-platform-portal',
      ]),
    );
    const runsNs = all.find(o => o.kind === 'Namespace' && o.metadata?.name === RUNS_NS)!;
    expect(runsNs.metadata!.labels!['pod-security.kubernetes.io/enforce']).toBe('restricted');
    expect(fs.existsSync(path.join(K8S_DIR, 'skaffold.yaml'))).toBe(true);
  });

  it('applies every manifest with a server-side dry run, then for real', async () => {
    // Namespaced objects need their namespace to exist, even for a dry run.
    for (const ns of all.filter(o => o.kind === 'Namespace')) {
      await apply(ns);
    }
    for (const obj of all) {
      await expect(apply(obj, 'All')).resolves.toMatchObject({ kind: obj.kind });
    }
    for (const obj of all) {
      await apply(obj);
    }
    const privileged = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'privileged', namespace: RUNS_NS },
      spec: { containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] },
    };
    await expect(objects.create(privileged, undefined, 'All')).rejects.toMatchObject({
      code: 403,
      body: expect.stringMatching(/violates PodSecurity .{0,4}restricted:latest/),
    });
  });

  describe('the portal ServiceAccount (TokenRequest)', () => {
    let saConfig: KubeConfig;
    const databases = TestDatabases.create({ ids: ['SQLITE_3'], disableDocker: true });

    beforeAll(async () => {
      const tokenRequest = await core.createNamespacedServiceAccountToken({
        name: 'agent-platform-portal',
        namespace: PORTAL_NS,
        body: { spec: { audiences: [], expirationSeconds: 3600 } } as any,
      });
      const admin = cluster.kubeConfig.getCurrentCluster()!;
      saConfig = new KubeConfig();
      saConfig.loadFromClusterAndUser(
        { ...admin },
        { name: 'agent-platform-portal', token: tokenRequest.status!.token },
      );
      await cluster.setPodLogs({
        namespace: RUNS_NS,
        lines: runtimeLogLines({ summary: 'as the portal', sentences: 1 }),
      });
    });

    it('is sufficient: the infra plugin runs and cancels Jobs with it', async () => {
      const knex = await databases.init('SQLITE_3');
      await knex.migrate.latest({ directory: path.resolve(__dirname, '../migrations') });
      const store = new ExecutionStore(knex);
      const long = new Set<string>();
      const userSecrets = new Map<string, Record<string, string>>();
      const plane = await startKubernetesPlane({
        store,
        kubeConfig: saConfig,
        namespace: RUNS_NS,
        userSecrets,
        podAnnotations: p => (long.has(p.executionId) ? kwokPodAnnotations({ runningMs: 120_000 }) : {}),
      });
      try {
        expect((await plane.executor.health()).ok).toBe(true);
        const plan = makePlan();
        await plane.manager.submit(plan);
        const done = await waitFor(async () => {
          const r = await store.get(plan.executionId);
          return r && ['succeeded', 'failed'].includes(r.state) && r;
        }, 'the run to end', 60_000);
        expect(done).toMatchObject({ state: 'succeeded', result: { summary: 'as the portal' } });

        // With a user secret: it creates the run's Secret, and deletes it on cancel.
        const slow = makePlan({ secrets: [{ name: 'GH_TOKEN', source: 'user', ref: 'ada/github' }] });
        userSecrets.set(slow.executionId, { GH_TOKEN: 'portal-sa-secret-value' });
        long.add(slow.executionId);
        await plane.manager.submit(slow);
        await waitFor(async () => (await store.get(slow.executionId))?.state === 'running', 'running', 60_000);
        const secretName = runSecretNameFor(slow.executionId, 1);
        const secret = await core.readNamespacedSecret({ name: secretName, namespace: RUNS_NS });
        expect(Buffer.from(secret.data!.GH_TOKEN, 'base64').toString('utf8')).toBe('portal-sa-secret-value');
        expect(plane.executor.apiCalls.secretCreate).toBe(1);
        await plane.manager.cancel(slow.executionId);
        await waitFor(async () => (await store.get(slow.executionId))?.state === 'cancelled', 'cancelled', 60_000);
        await waitFor(
          () => core.readNamespacedSecret({ name: secretName, namespace: RUNS_NS }).then(() => false, e => e.code === 404),
          'the Secret to be deleted',
          30_000,
        );
      } finally {
        await plane.stop();
      }
    });

    it('is not broader: other namespaces, reading or changing Secrets and bare Pods are forbidden', async () => {
      const batch = saConfig.makeApiClient(BatchV1Api);
      const core2 = saConfig.makeApiClient(CoreV1Api);
      await expect(batch.listNamespacedJob({ namespace: 'default' })).rejects.toMatchObject({ code: 403 });
      await expect(batch.listNamespacedJob({ namespace: PORTAL_NS })).rejects.toMatchObject({ code: 403 });
      await expect(core2.listNamespacedSecret({ namespace: RUNS_NS })).rejects.toMatchObject({ code: 403 });
      // Secrets: create/delete in the runs namespace only; never read, list, watch or change.
      await core.createNamespacedSecret({
        namespace: RUNS_NS,
        body: { metadata: { name: 'someone-elses' }, stringData: { k: 'v' } },
      });
      await expect(core2.readNamespacedSecret({ name: 'someone-elses', namespace: RUNS_NS })).rejects.toMatchObject({ code: 403 });
      await expect(
        core2.patchNamespacedSecret({ name: 'someone-elses', namespace: RUNS_NS, body: [] as any }),
      ).rejects.toMatchObject({ code: 403 });
      await expect(
        core2.replaceNamespacedSecret({
          name: 'someone-elses',
          namespace: RUNS_NS,
          body: { metadata: { name: 'someone-elses' }, stringData: { k: 'changed' } },
        }),
      ).rejects.toMatchObject({ code: 403 });
      for (const namespace of [PORTAL_NS, 'default']) {
        await expect(
          core2.createNamespacedSecret({ namespace, body: { metadata: { name: 'x' } }, dryRun: 'All' }),
        ).rejects.toMatchObject({ code: 403 });
        await expect(core2.deleteNamespacedSecret({ name: 'x', namespace })).rejects.toMatchObject({ code: 403 });
      }
      await expect(
        core2.createNamespacedSecret({ namespace: RUNS_NS, body: { metadata: { name: 'dry' } }, dryRun: 'All' }),
      ).resolves.toBeDefined();
      await expect(
        core2.createNamespacedPod({
          namespace: RUNS_NS,
          body: { metadata: { name: 'bare' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
          dryRun: 'All',
        }),
      ).rejects.toMatchObject({ code: 403 });
      await expect(
        batch.patchNamespacedJob({ name: 'any', namespace: RUNS_NS, body: [] as any }),
      ).rejects.toMatchObject({ code: 403 });
    });
  });
});
