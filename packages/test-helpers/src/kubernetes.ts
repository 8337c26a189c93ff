import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
} from '@kubernetes/client-node';

/**
 * How long a `beforeAll` that calls {@link startTestCluster} may take: the very first start on a
 * machine builds the Kubernetes binaries from Go modules (see docs/kubernetes-test-control-plane.md).
 * Later starts reuse the cached binaries (seconds), and a running control plane is reused at once.
 */
export const TEST_CLUSTER_START_TIMEOUT_MS = 45 * 60_000;

/** Pod annotations understood by the KWOK stages of the test control plane (scripts/k8s/kwok). */
export const KWOK_POD_ANNOTATIONS = {
  /** `"true"`: the pod ends `Failed` (containers terminated with the exit code below). */
  fail: 'agentplatform.dev/kwok-fail',
  /** Exit code of the failing pod's containers (default 1). */
  exitCode: 'agentplatform.dev/kwok-exit-code',
  /** `terminated.reason` of the failing pod's containers (default `Error`). */
  reason: 'agentplatform.dev/kwok-reason',
  /** How long a Job pod stays `Running` before it ends, a Go duration such as `"3s"` (default 500ms). */
  duration: 'agentplatform.dev/kwok-duration',
} as const;

/** Options of {@link kwokPodAnnotations}. */
export interface KwokPodBehaviour {
  /** Make the pod end `Failed` instead of `Succeeded`. */
  fail?: boolean;
  /** Exit code of its containers when it fails (default 1). */
  exitCode?: number;
  /** `terminated.reason` when it fails (default `Error`). */
  reason?: string;
  /** How long it stays `Running`, in milliseconds (default 500). */
  runningMs?: number;
}

/**
 * The annotations to put on a pod (template) so that the fake KWOK kubelet runs it as described.
 * Pods of Jobs without them go Pending, Running, then Succeeded with exit code 0.
 */
export function kwokPodAnnotations(
  behaviour: KwokPodBehaviour,
): Record<string, string> {
  const annotations: Record<string, string> = {};
  if (behaviour.fail) {
    annotations[KWOK_POD_ANNOTATIONS.fail] = 'true';
    annotations[KWOK_POD_ANNOTATIONS.exitCode] = String(
      behaviour.exitCode ?? 1,
    );
    if (behaviour.reason) {
      annotations[KWOK_POD_ANNOTATIONS.reason] = behaviour.reason;
    }
  }
  if (behaviour.runningMs !== undefined) {
    annotations[KWOK_POD_ANNOTATIONS.duration] = `${Math.max(
      0,
      Math.round(behaviour.runningMs),
    )}ms`;
  }
  return annotations;
}

/** What fake container logs to serve, see {@link TestCluster.setPodLogs}. */
export interface FakePodLogs {
  namespace: string;
  /** Only this pod; without it every pod of the namespace gets these logs. */
  podName?: string;
  /** Only this container; without it every container. */
  container?: string;
  /** The log lines, without trailing newlines. */
  lines: string[];
}

/** A real Kubernetes control plane (scripts/k8s/up.sh) shared by all test files of a run. */
export interface TestCluster {
  /** A kubeconfig file with a cluster-admin identity, for kubectl and child processes. */
  kubeconfigPath: string;
  /** The same kubeconfig, loaded. */
  kubeConfig: KubeConfig;
  /** The API server URL, e.g. https://127.0.0.1:26443 */
  server: string;
  /**
   * Creates a namespace named `<prefix>-<random>` with the given labels (for example
   * `pod-security.kubernetes.io/enforce: restricted`) and waits until its `default`
   * ServiceAccount exists, so pods can be created in it at once. Namespaces created here are
   * deleted when the test file ends.
   */
  createNamespace(
    prefix: string,
    labels?: Record<string, string>,
  ): Promise<string>;
  /** Shorthand for `kwokPodAnnotations({ fail: true, exitCode, reason })`. */
  failPodAnnotations(
    exitCode?: number,
    reason?: string,
  ): Record<string, string>;
  /**
   * Makes the fake kubelet (KWOK) serve these lines as the container logs of one pod, or of every
   * pod in the namespace, through the regular pods/log API. Replaces earlier logs of the same
   * target. KWOK picks the change up asynchronously: read the logs with a retry.
   */
  setPodLogs(logs: FakePodLogs): Promise<void>;
}

const KWOK_GROUP = 'kwok.x-k8s.io';
const KWOK_VERSION = 'v1alpha1';
const TEST_NAMESPACE_LABEL = 'agentplatform.dev/test-namespace';
/** scripts/k8s/up.sh of the repository this workspace package lives in. */
const UP_SCRIPT = path.resolve(
  path.dirname(require.resolve('@internal/test-helpers/package.json')),
  '../../scripts/k8s/up.sh',
);

function runUpScript(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [UP_SCRIPT],
      {
        env: process.env,
        maxBuffer: 64 * 1024 * 1024,
        timeout: TEST_CLUSTER_START_TIMEOUT_MS,
      },
      (error, stdout, stderr) => {
        if (error) {
          const tail = stderr.trim().split('\n').slice(-40).join('\n');
          const how = error.killed
            ? `timed out after ${TEST_CLUSTER_START_TIMEOUT_MS / 60_000} min`
            : `exit code ${error.code}`;
          reject(
            new Error(
              `The Kubernetes test control plane could not start: bash ${UP_SCRIPT} failed (${how}).\n` +
                `It needs Go (GO=/usr/local/go/bin/go or go on PATH), openssl and curl; ` +
                `see docs/kubernetes-test-control-plane.md.\n${tail}`,
            ),
          );
          return;
        }
        const lines = stdout.trim().split('\n');
        resolve(lines[lines.length - 1]);
      },
    );
  });
}

let starting: Promise<string> | undefined;
const createdNamespaces = new Set<string>();
const createdClusterLogs = new Set<string>();
let cleanupKubeConfig: KubeConfig | undefined;

function isStatus(error: unknown, code: number): boolean {
  return error instanceof ApiException && error.code === code;
}

function sleep(ms: number) {
  return new Promise(resolve => setTimeout(resolve, ms));
}

function randomSuffix() {
  return randomBytes(4).toString('hex').slice(0, 6);
}

function dnsLabel(prefix: string) {
  const base = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50);
  return `${base || 'test'}-${randomSuffix()}`;
}

/** A log line in the CRI format KWOK reads (`<time> <stream> F <text>`). */
function criLines(lines: string[]) {
  const now = new Date().toISOString();
  return lines.map(line => `${now} stdout F ${line}\n`).join('');
}

/**
 * Starts the Kubernetes test control plane (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler, KWOK) or reuses the one already running, and returns a handle to it. Call it
 * in `beforeAll` with {@link TEST_CLUSTER_START_TIMEOUT_MS}. It never skips: when the control
 * plane cannot start, the returned promise rejects with the reason.
 *
 * The control plane outlives the test process (parallel jest workers and later test files share
 * it); `yarn k8s:down` (scripts/k8s/down.sh) stops it.
 */
export async function startTestCluster(): Promise<TestCluster> {
  if (!starting) {
    starting = runUpScript();
    starting.catch(() => {
      starting = undefined;
    });
  }
  const kubeconfigPath = await starting;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  cleanupKubeConfig = kubeConfig;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const server = kubeConfig.getCurrentCluster()?.server ?? '';
  const logsDir = path.join(path.dirname(kubeconfigPath), 'pod-logs');

  async function createNamespace(
    prefix: string,
    labels: Record<string, string> = {},
  ): Promise<string> {
    const name = dnsLabel(prefix);
    await core.createNamespace({
      body: {
        metadata: {
          name,
          labels: { ...labels, [TEST_NAMESPACE_LABEL]: 'true' },
        },
      },
    });
    createdNamespaces.add(name);
    for (let i = 0; ; i++) {
      try {
        await core.readNamespacedServiceAccount({
          name: 'default',
          namespace: name,
        });
        return name;
      } catch (error) {
        if (!isStatus(error, 404) || i >= 300) throw error;
        await sleep(100);
      }
    }
  }

  async function upsert(
    create: () => Promise<unknown>,
    remove: () => Promise<unknown>,
  ) {
    try {
      await remove();
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
    await create();
  }

  async function setPodLogs(logs: FakePodLogs): Promise<void> {
    const target = `${logs.podName ?? '_all'}.${logs.container ?? '_all'}`;
    const file = path.join(logsDir, logs.namespace, `${target}.log`);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, criLines(logs.lines));
    const entry = {
      ...(logs.container ? { containers: [logs.container] } : {}),
      logsFile: file,
    };
    if (logs.podName) {
      const body = {
        apiVersion: `${KWOK_GROUP}/${KWOK_VERSION}`,
        kind: 'Logs',
        metadata: { name: logs.podName, namespace: logs.namespace },
        spec: { logs: [entry] },
      };
      const ref = {
        group: KWOK_GROUP,
        version: KWOK_VERSION,
        namespace: logs.namespace,
        plural: 'logs',
      };
      await upsert(
        () => custom.createNamespacedCustomObject({ ...ref, body }),
        () =>
          custom.deleteNamespacedCustomObject({ ...ref, name: logs.podName! }),
      );
      return;
    }
    const name = `${logs.namespace}.${logs.container ?? 'all'}`;
    const body = {
      apiVersion: `${KWOK_GROUP}/${KWOK_VERSION}`,
      kind: 'ClusterLogs',
      metadata: {
        name,
        labels: { [TEST_NAMESPACE_LABEL]: logs.namespace },
      },
      spec: { selector: { matchNamespaces: [logs.namespace] }, logs: [entry] },
    };
    const ref = {
      group: KWOK_GROUP,
      version: KWOK_VERSION,
      plural: 'clusterlogs',
    };
    await upsert(
      () => custom.createClusterCustomObject({ ...ref, body }),
      () => custom.deleteClusterCustomObject({ ...ref, name }),
    );
    createdClusterLogs.add(name);
  }

  return {
    kubeconfigPath,
    kubeConfig,
    server,
    createNamespace,
    failPodAnnotations: (exitCode = 1, reason) =>
      kwokPodAnnotations({ fail: true, exitCode, reason }),
    setPodLogs,
  };
}

/** Deletes what this test file created (namespaces, cluster-wide fake logs). */
async function cleanupTestCluster() {
  const kubeConfig = cleanupKubeConfig;
  if (!kubeConfig) return;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const ignoreGone = (error: unknown) => {
    if (!isStatus(error, 404)) throw error;
  };
  await Promise.all([
    ...[...createdNamespaces].map(name =>
      core
        .deleteNamespace({ name, propagationPolicy: 'Background' })
        .catch(ignoreGone),
    ),
    ...[...createdClusterLogs].map(name =>
      custom
        .deleteClusterCustomObject({
          group: KWOK_GROUP,
          version: KWOK_VERSION,
          plural: 'clusterlogs',
          name,
        })
        .catch(ignoreGone),
    ),
  ]);
  createdNamespaces.clear();
  createdClusterLogs.clear();
}

// Jest gives every test file its own copy of this module, and a hook registered while the test
// file's imports are evaluated belongs to that file: so each file cleans up after itself.
if (typeof afterAll === 'function') {
  afterAll(cleanupTestCluster, 60_000);
}
