import fs from 'node:fs';
import https from 'node:https';
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
} from '@kubernetes/client-node';
import yaml from 'yaml';
import { ExecutionStore } from './database/ExecutionStore';
import { makePlan, REPO_ROOT, waitFor } from './__testUtils__';
import { quietLogger, runtimeLogLines, startKubernetesPlane } from './__testUtils__/kubernetes';
import {
  DEFAULT_EGRESS_PROXY_URL,
  EGRESS_CREDENTIAL_KEY,
} from '@internal/plugin-infra-control-plane-node';
import { runSecretNameFor } from './services/executors/jobSpec';
import { KubernetesJobExecutor } from './services/executors/KubernetesJobExecutor';
import { ExecutorExit } from './services/executors/types';

jest.setTimeout(180_000);

const K8S_DIR = path.join(REPO_ROOT, 'k8s');
const PORTAL_NS = 'agent-platform';
const RUNS_NS = 'agent-platform-runs';
const TASKS_NS = 'agent-platform-tasks';
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

type Obj = KubernetesObject & { spec?: any };

/** Resource paths of the kinds in k8s/ (a new kind fails loudly here). */
const PLURALS: Record<string, string> = {
  Namespace: 'namespaces',
  ServiceAccount: 'serviceaccounts',
  Secret: 'secrets',
  Role: 'roles',
  RoleBinding: 'rolebindings',
  NetworkPolicy: 'networkpolicies',
  ResourceQuota: 'resourcequotas',
  LimitRange: 'limitranges',
  ConfigMap: 'configmaps',
  Deployment: 'deployments',
  Service: 'services',
  ValidatingAdmissionPolicy: 'validatingadmissionpolicies',
  ValidatingAdmissionPolicyBinding: 'validatingadmissionpolicybindings',
};

/**
 * Server-side apply of a manifest exactly as written, like kubectl. (The
 * client's object API re-serializes plain objects through its typed models,
 * which lose fields whose model name differs, e.g. NetworkPolicy `from`.)
 */
async function serverSideApply(kubeConfig: KubeConfig, obj: Obj, dryRun?: 'All'): Promise<any> {
  const plural = PLURALS[obj.kind!];
  if (!plural) throw new Error(`no resource path known for kind ${obj.kind}`);
  const base = obj.apiVersion!.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
  const ns = obj.metadata!.namespace ? `/namespaces/${obj.metadata!.namespace}` : '';
  const query = new URLSearchParams({ fieldManager: FIELD_MANAGER, force: 'true', ...(dryRun ? { dryRun } : {}) });
  const url = new URL(`${kubeConfig.getCurrentCluster()!.server}${base}${ns}/${plural}/${obj.metadata!.name}?${query}`);
  const options: https.RequestOptions = {
    method: 'PATCH',
    headers: { 'content-type': 'application/apply-patch+yaml', accept: 'application/json' },
  };
  await kubeConfig.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = https.request(url, options, res => {
      let body = '';
      res.on('data', c => (body += c));
      res.on('end', () => {
        if (res.statusCode! >= 300) {
          reject(Object.assign(new Error(`${obj.kind}/${obj.metadata!.name}: ${res.statusCode} ${body}`), { code: res.statusCode, body }));
        } else resolve(JSON.parse(body));
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(obj));
  });
}

/** The egress a pod with `labels` in `namespace` gets from all NetworkPolicies (they add up). */
function egressOf(all: Obj[], namespace: string, labels: Record<string, string>) {
  const selects = (selector: any) =>
    Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  return all
    .filter(o => o.kind === 'NetworkPolicy' && o.metadata?.namespace === namespace)
    .filter(o => o.spec.policyTypes.includes('Egress') && selects(o.spec.podSelector))
    .flatMap(o => o.spec.egress ?? [])
    .flatMap((rule: any) =>
      (rule.to ?? [{ everywhere: true }]).flatMap((to: any) =>
        (rule.ports ?? [{ any: true }]).map((port: any) => ({ to, port })),
      ),
    );
}

const DNS_PEER = { namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } };
const PORTAL_PEER = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': PORTAL_NS } },
  podSelector: { matchLabels: { 'app.kubernetes.io/name': 'agent-platform-portal' } },
};

describe('k8s/ egress objects (shape)', () => {
  const all = manifests() as Obj[];
  const find = (kind: string, name: string) => all.find(o => o.kind === kind && o.metadata?.name === name)!;

  it('lets pods granted http reach only DNS and the egress proxy (portal pods, TCP 3128)', () => {
    const httpPod = { 'agentplatform.dev/role': 'agent-run', 'agentplatform.dev/egress': 'allowed', 'agentplatform.dev/platform-api': 'denied' };
    expect(egressOf(all, RUNS_NS, httpPod)).toEqual([
      { to: DNS_PEER, port: { protocol: 'UDP', port: 53 } },
      { to: DNS_PEER, port: { protocol: 'TCP', port: 53 } },
      { to: PORTAL_PEER, port: { protocol: 'TCP', port: 3128 } },
    ]);
    // Without http: nothing but what llm/catalog give (or nothing at all).
    expect(egressOf(all, RUNS_NS, { ...httpPod, 'agentplatform.dev/egress': 'denied' })).toEqual([]);
    expect(find('NetworkPolicy', 'default-deny-all').spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  });

  it('has no ipBlock in any policy of the runs namespace (no 0.0.0.0/0, no way around the proxy)', () => {
    const runsPolicies = all.filter(o => o.kind === 'NetworkPolicy' && o.metadata?.namespace === RUNS_NS);
    expect(runsPolicies.length).toBeGreaterThanOrEqual(3);
    const text = JSON.stringify(runsPolicies);
    expect(text).not.toMatch(/ipBlock/);
    expect(text).not.toMatch(/0\.0\.0\.0\/0|::\/0/);
  });

  it('serves the proxy as agent-egress:3128 on the portal pods, reachable only from pods granted http', () => {
    const service = find('Service', 'agent-egress');
    const deployment = find('Deployment', 'agent-platform-portal');
    const template = deployment.spec.template;
    expect(service.metadata!.namespace).toBe(PORTAL_NS);
    expect(Object.entries(service.spec.selector).every(([k, v]) => template.metadata.labels[k] === v)).toBe(true);
    expect(service.spec.ports).toEqual([{ name: 'egress-proxy', protocol: 'TCP', port: 3128, targetPort: 'egress-proxy' }]);
    expect(template.spec.containers[0].ports).toContainEqual({ name: 'egress-proxy', containerPort: 3128 });
    // The URL pods get names this Service.
    const url = new URL(DEFAULT_EGRESS_PROXY_URL);
    expect(url.hostname).toBe(`${service.metadata!.name}.${PORTAL_NS}.svc`);
    expect(Number(url.port)).toBe(3128);

    const ingress = find('NetworkPolicy', 'allow-egress-proxy-from-runs');
    expect(ingress.metadata!.namespace).toBe(PORTAL_NS);
    expect(ingress.spec.podSelector).toEqual({ matchLabels: template.metadata.labels });
    expect(ingress.spec.policyTypes).toEqual(['Ingress']);
    expect(ingress.spec.ingress).toEqual([
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': RUNS_NS } },
            podSelector: { matchLabels: { 'agentplatform.dev/egress': 'allowed' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 3128 }],
      },
      // The portal's own port stays open to everyone, as it was without this policy.
      { ports: [{ protocol: 'TCP', port: 7007 }] },
    ]);
  });
});

describe('k8s/ manifests against a real kube-apiserver', () => {
  let cluster: TestCluster;
  let objects: KubernetesObjectApi;
  let core: CoreV1Api;
  const all = manifests();

  const apply = (obj: KubernetesObject, dryRun?: 'All') => serverSideApply(cluster.kubeConfig, obj, dryRun);

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
    for (const name of [PORTAL_NS, RUNS_NS, TASKS_NS]) {
      await waitFor(() => gone(name), `namespace ${name} from an earlier run to be gone`, 120_000);
    }
  }, TEST_CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    for (const name of [RUNS_NS, TASKS_NS, PORTAL_NS]) {
      await core.deleteNamespace({ name }).catch(() => undefined);
    }
  });

  it('has the objects the design asks for', () => {
    const kinds = all.map(o => `${o.kind}/${o.metadata?.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'Namespace/agent-platform',
        'Namespace/agent-platform-runs',
        'Namespace/agent-platform-tasks',
        'ServiceAccount/agent-platform-portal',
        'ServiceAccount/agent-platform-task-runner',
        'Role/agent-platform-task-runner',
        'RoleBinding/agent-platform-task-runner',
        'ValidatingAdmissionPolicy/agent-platform-runs-pod-secrets',
        'ValidatingAdmissionPolicyBinding/agent-platform-runs-pod-secrets',
        'Role/agent-platform-job-runner',
        'RoleBinding/agent-platform-job-runner',
        'NetworkPolicy/default-deny-all',
        'NetworkPolicy/allow-egress-when-http-granted',
        'NetworkPolicy/allow-egress-proxy-from-runs',
        'Service/agent-egress',
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

  it('keeps the egress objects as written through a server-side dry run', async () => {
    const find = (name: string) => all.find(o => `${o.kind}/${o.metadata?.name}` === name) as Obj;
    for (const name of ['NetworkPolicy/allow-egress-proxy-from-runs', 'NetworkPolicy/allow-egress-when-http-granted']) {
      const answered = await apply(find(name), 'All');
      expect({ name, spec: answered.spec }).toEqual({ name, spec: find(name).spec });
    }
    const service = find('Service/agent-egress');
    const answered = await apply(service, 'All');
    expect(answered.spec.ports).toEqual([expect.objectContaining(service.spec.ports[0])]);
    expect(answered.spec.selector).toEqual(service.spec.selector);
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
        // The Job first, then its Secret: on KWOK the pod may run before the Secret exists.
        const secret = await waitFor(
          () => core.readNamespacedSecret({ name: secretName, namespace: RUNS_NS }).catch(() => undefined),
          'the run Secret',
          30_000,
        );
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

    it('is sufficient for the egress credential: it goes into the run Secret, the Job only references it', async () => {
      const exits: ExecutorExit[] = [];
      const executor = new KubernetesJobExecutor({
        logger: quietLogger(),
        clusters: [{ name: 'test', namespace: RUNS_NS, kubeConfig: saConfig }],
        podAnnotations: () => kwokPodAnnotations({ runningMs: 120_000 }),
        maxRetryDelayMs: 500,
        egressCredential: plan => `credential-of-${plan.executionId}`,
      });
      await executor.start({
        dispatched: async () => undefined,
        running: async () => undefined,
        output: async () => undefined,
        exited: async (_id, exit) => {
          exits.push(exit);
        },
      });
      const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
      try {
        const plan = makePlan({ tools: [{ name: 'http', allowHosts: ['api.github.com'] }] });
        await executor.run(plan);
        const secretName = runSecretNameFor(plan.executionId, 1);
        const secret = await waitFor(
          () => core.readNamespacedSecret({ name: secretName, namespace: RUNS_NS }).catch(() => undefined),
          'the run Secret',
          60_000,
        );
        expect(Object.keys(secret.data!)).toEqual([EGRESS_CREDENTIAL_KEY]);
        expect(Buffer.from(secret.data![EGRESS_CREDENTIAL_KEY], 'base64').toString('utf8')).toBe(
          `credential-of-${plan.executionId}`,
        );
        const job = await batch.readNamespacedJob({ name: secret.metadata!.ownerReferences![0].name, namespace: RUNS_NS });
        const env = job.spec!.template.spec!.containers[0].env!;
        expect(env.find(e => e.name === 'AGENT_EGRESS_CREDENTIAL')).toEqual({
          name: 'AGENT_EGRESS_CREDENTIAL',
          valueFrom: { secretKeyRef: { name: secretName, key: EGRESS_CREDENTIAL_KEY } },
        });
        expect(env.find(e => e.name === 'AGENT_EGRESS_PROXY')!.value).toBe(DEFAULT_EGRESS_PROXY_URL);
        expect(JSON.stringify(job)).not.toContain(`credential-of-${plan.executionId}`);
        await executor.cancel(plan.executionId);
        await waitFor(() => exits.length > 0, 'the cancel to finish the run', 60_000);
        await waitFor(
          () => core.readNamespacedSecret({ name: secretName, namespace: RUNS_NS }).then(() => false, e => e.code === 404),
          'the Secret to be deleted',
          30_000,
        );
      } finally {
        await executor.stop();
      }
    });

    it('is not broader: other namespaces, reading or changing Secrets and bare Pods are forbidden', async () => {
      const batch = saConfig.makeApiClient(BatchV1Api);
      const core2 = saConfig.makeApiClient(CoreV1Api);
      await expect(batch.listNamespacedJob({ namespace: 'default' })).rejects.toMatchObject({ code: 403 });
      await expect(batch.listNamespacedJob({ namespace: PORTAL_NS })).rejects.toMatchObject({ code: 403 });
      await expect(core2.listNamespacedSecret({ namespace: RUNS_NS })).rejects.toMatchObject({ code: 403 });
      // Secrets: create/delete in the runs namespace only; never read, list, watch or change.
      // (The admission policies let an administrator create only the platform Secret there.)
      await core.createNamespacedSecret({
        namespace: RUNS_NS,
        body: { metadata: { name: 'agent-platform-secrets' }, stringData: { k: 'v' } },
      });
      await expect(core2.readNamespacedSecret({ name: 'agent-platform-secrets', namespace: RUNS_NS })).rejects.toMatchObject({ code: 403 });
      await expect(
        core2.patchNamespacedSecret({ name: 'agent-platform-secrets', namespace: RUNS_NS, body: [] as any }),
      ).rejects.toMatchObject({ code: 403 });
      await expect(
        core2.replaceNamespacedSecret({
          name: 'agent-platform-secrets',
          namespace: RUNS_NS,
          body: { metadata: { name: 'agent-platform-secrets' }, stringData: { k: 'changed' } },
        }),
      ).rejects.toMatchObject({ code: 403 });
      for (const namespace of [PORTAL_NS, 'default']) {
        await expect(
          core2.createNamespacedSecret({ namespace, body: { metadata: { name: 'x' } }, dryRun: 'All' }),
        ).rejects.toMatchObject({ code: 403 });
        await expect(core2.deleteNamespacedSecret({ name: 'x', namespace })).rejects.toMatchObject({ code: 403 });
      }
      await expect(
        core2.createNamespacedSecret({
          namespace: RUNS_NS,
          body: {
            metadata: {
              name: 'run-dry-secrets',
              ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'run-dry', uid: '00000000-0000-0000-0000-000000000001' }],
            },
          },
          dryRun: 'All',
        }),
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
