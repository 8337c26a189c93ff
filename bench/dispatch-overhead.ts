/*
 * Dispatch overhead of the infra control plane's Kubernetes executor.
 *
 * Against the real test control plane (kube-apiserver + controllers + KWOK),
 * in one run:
 *  - direct: create N agent Jobs (the same spec the plugin builds) with the
 *    client, then wait on one watch until all are Complete;
 *  - plugin: submit N ExecutionPlans to the ExecutionManager (store on SQLite,
 *    Kubernetes executor, shared informers, updates recorded), and wait until
 *    all are dispatched (Job created) and then succeeded (logs read, stored).
 * Prints the throughput of each, the ratio plugin/direct, and the API
 * requests the plugin issued per run.
 *
 * Run from the repo root (after `. scripts/toolchain.sh`):
 *   node --require ./node_modules/@backstage/cli/config/nodeTransform.cjs bench/dispatch-overhead.ts --runs 50
 */
import path from 'node:path';
import knexFactory from 'knex';
import { BatchV1Api, V1Job, Watch } from '@kubernetes/client-node';
import { startTestCluster } from '@internal/test-helpers';
import { ExecutionPlan } from '@internal/plugin-agents-common';
import { ExecutionStore } from '../plugins/infra-control-plane-backend/src/database/ExecutionStore';
import { buildAgentJob } from '@internal/plugin-infra-control-plane-node';
import { startKubernetesPlane } from '../plugins/infra-control-plane-backend/src/__testUtils__/kubernetes';

const argRuns = process.argv.indexOf('--runs');
const N = argRuns > 0 ? Number(process.argv[argRuns + 1]) : 50;
const CONCURRENCY = 10;

function plan(i: number, tag: string): ExecutionPlan {
  return {
    executionId: `bench-${tag}-${Date.now().toString(36)}-${i}`,
    attempt: 1,
    agentRef: 'agent:default/summarizer',
    agentVersion: '1.4.0',
    image: 'registry.example.com/agents/summarizer:1.4.0',
    entrypoint: 'index.js',
    input: { text: 'One. Two.', sentences: 1 },
    tools: [],
    secrets: [],
    resources: { cpu: '100m', memory: '64Mi', timeoutSeconds: 300 },
    requestedBy: 'user:default/bench',
    plan: 'free',
  };
}

async function inBatches<T>(items: T[], fn: (item: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += CONCURRENCY) {
    await Promise.all(items.slice(i, i + CONCURRENCY).map(fn));
  }
}

async function main() {
  const cluster = await startTestCluster();
  const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  const restricted = { 'pod-security.kubernetes.io/enforce': 'restricted' };

  // --- direct -----------------------------------------------------------------
  const directNs = await cluster.createNamespace('bench-direct', restricted);
  const directPlans = Array.from({ length: N }, (_, i) => plan(i, 'direct'));
  const complete = new Set<string>();
  let allComplete!: () => void;
  const allCompleteP = new Promise<void>(r => (allComplete = r));
  const watch = new Watch(cluster.kubeConfig);
  const watchReq = await watch.watch(
    `/apis/batch/v1/namespaces/${directNs}/jobs`,
    {},
    (_type: string, job: V1Job) => {
      if (job.status?.conditions?.some(c => c.type === 'Complete' && c.status === 'True')) {
        complete.add(job.metadata!.name!);
        if (complete.size === N) allComplete();
      }
    },
    () => undefined,
  );
  const d0 = performance.now();
  await inBatches(directPlans, p =>
    batch.createNamespacedJob({
      namespace: directNs,
      body: buildAgentJob(p, { namespace: directNs, platformSecretName: 'x' }),
    }),
  );
  const dCreated = performance.now();
  await allCompleteP;
  const dDone = performance.now();
  watchReq.abort();

  // --- through the plugin --------------------------------------------------------
  const pluginNs = await cluster.createNamespace('bench-plugin', restricted);
  await cluster.setPodLogs({
    namespace: pluginNs,
    lines: [
      JSON.stringify({ tag: 'agentplatform.runtime/v1', type: 'started', ts: new Date().toISOString(), agent: 'agent:default/summarizer', tools: [] }),
      JSON.stringify({ tag: 'agentplatform.runtime/v1', type: 'result', ts: new Date().toISOString(), result: { summary: 'One.', sentences: 1 } }),
    ],
  });
  const knex = knexFactory({ client: 'better-sqlite3', connection: ':memory:', useNullAsDefault: true });
  await knex.migrate.latest({
    directory: path.resolve(__dirname, '../plugins/infra-control-plane-backend/migrations'),
  });
  const store = new ExecutionStore(knex);
  const plane = await startKubernetesPlane({
    store,
    kubeConfig: cluster.kubeConfig,
    namespace: pluginNs,
  });
  const watchCallsAtStart = { ...plane.executor.apiCalls };
  const pluginPlans = Array.from({ length: N }, (_, i) => plan(i, 'plugin'));
  const p0 = performance.now();
  await inBatches(pluginPlans, p => plane.manager.submit(p));
  const waitAll = async (states: string[]) => {
    for (;;) {
      const rows = await knex('infra_executions').whereIn('state', states).count({ n: '*' });
      if (Number(rows[0].n) >= N) return;
      await new Promise(r => setTimeout(r, 20));
    }
  };
  await waitAll(['dispatched', 'running', 'succeeded', 'failed']);
  const pDispatched = performance.now();
  await waitAll(['succeeded']);
  const pDone = performance.now();
  const failed = await knex('infra_executions').whereNot('state', 'succeeded').count({ n: '*' });
  const calls = plane.executor.apiCalls;
  await plane.stop();
  await knex.destroy();

  const perRun = (calls.create + calls.read + calls.delete + calls.log) / N;
  const informer = calls.informerList + calls.informerWatch;
  const tp = (ms: number) => (N / (ms / 1000)).toFixed(1);
  const lines = [
    `N=${N} runs, ${CONCURRENCY} submitted at a time, Kubernetes ${cluster.server}`,
    `direct Jobs:   created in ${(dCreated - d0).toFixed(0)} ms (${tp(dCreated - d0)}/s); all Complete after ${(dDone - d0).toFixed(0)} ms (${tp(dDone - d0)}/s)`,
    `through plugin: dispatched in ${(pDispatched - p0).toFixed(0)} ms (${tp(pDispatched - p0)}/s); all succeeded (logs+result stored) after ${(pDone - p0).toFixed(0)} ms (${tp(pDone - p0)}/s)`,
    `overhead ratio (plugin throughput / direct throughput): dispatch ${((dCreated - d0) / (pDispatched - p0)).toFixed(2)}, end-to-end ${((dDone - d0) / (pDone - p0)).toFixed(2)}`,
    `plugin API requests per run: ${perRun.toFixed(2)} (create ${calls.create}, read ${calls.read}, log ${calls.log}, delete ${calls.delete}); shared watch requests for all runs: ${informer} (list ${calls.informerList}, watch ${calls.informerWatch}; ${watchCallsAtStart.informerList + watchCallsAtStart.informerWatch} at start)`,
    `runs not succeeded: ${failed[0].n}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  process.exit(0);
}

main().catch(error => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
