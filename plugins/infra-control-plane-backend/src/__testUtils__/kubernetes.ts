import net from 'node:net';
import { LoggerService } from '@backstage/backend-plugin-api';
import { ConfigReader } from '@backstage/config';
import {
  ExecutionPlan,
  ExecutionUpdate,
  RUNTIME_EVENT_TAG,
} from '@internal/plugin-agents-common';
import { KubeConfig } from '@kubernetes/client-node';
import { ExecutionStore } from '../database/ExecutionStore';
import { UpdateDelivery } from '../services/delivery/UpdateDelivery';
import { ExecutionManager } from '../services/ExecutionManager';
import { KubernetesJobExecutor } from '../services/executors/KubernetesJobExecutor';
import { SecretResolver } from '../services/secrets';

/** A logger for tests and the benchmark (no jest needed); ICP_DEBUG=1 prints. */
export function quietLogger(): LoggerService {
  const print = (level: string) => (message: string, meta?: unknown) => {
    if (process.env.ICP_DEBUG) {
      process.stderr.write(`[${level}] ${message} ${meta ? JSON.stringify(meta) : ''}\n`);
    }
  };
  const logger: LoggerService = {
    error: print('error'),
    warn: print('warn'),
    info: print('info'),
    debug: print('debug'),
    child: () => logger,
  };
  return logger;
}

/** Runtime event lines as the fake kubelet should serve them for a pod. */
export function runtimeLogLines(result: unknown, agent = 'agent:default/summarizer') {
  const ts = new Date().toISOString();
  return [
    JSON.stringify({ tag: RUNTIME_EVENT_TAG, type: 'started', ts, agent, version: '1.4.0', tools: [] }),
    JSON.stringify({ tag: RUNTIME_EVENT_TAG, type: 'log', ts, level: 'info', message: 'hello from the pod' }),
    JSON.stringify({ tag: RUNTIME_EVENT_TAG, type: 'result', ts, result }),
  ];
}

/**
 * The infra control plane's moving parts wired as in plugin.ts, with the
 * Kubernetes executor, and updates to the product control plane recorded.
 */
export async function startKubernetesPlane(options: {
  store: ExecutionStore;
  kubeConfig: KubeConfig;
  namespace: string;
  podAnnotations?: (plan: ExecutionPlan) => Record<string, string>;
  received?: ExecutionUpdate[];
  /** Values of `user` secrets by execution id, as the product control plane would answer. */
  userSecrets?: Map<string, Record<string, string>>;
}) {
  const logger = quietLogger();
  const received = options.received ?? [];
  const secrets = new SecretResolver(new ConfigReader({}));
  if (options.userSecrets) {
    const byExecution = options.userSecrets;
    secrets.setUserResolver({
      resolve: async (ref, context) => byExecution.get(context.executionId)?.[ref.name],
    });
  }
  const executor = new KubernetesJobExecutor({
    logger,
    clusters: [
      { name: 'test', namespace: options.namespace, kubeConfig: options.kubeConfig },
    ],
    podAnnotations: options.podAnnotations,
    deadlineGraceSeconds: 1,
    maxRetryDelayMs: 500,
    resolveUserSecrets: options.userSecrets
      ? plan => secrets.resolveUserSecrets(plan)
      : undefined,
  });
  const delivery = new UpdateDelivery({
    store: options.store,
    logger,
    auth: {
      getOwnServiceCredentials: async () => ({}),
      getPluginRequestToken: async () => ({ token: 'test-token' }),
    } as any,
    discovery: { getBaseUrl: async () => 'http://pcp.invalid' } as any,
    intervalMs: 100,
    fetchFn: (async (_url: string, init: any) => {
      received.push(JSON.parse(init.body));
      return new Response('{}', { status: 200 });
    }) as any,
  });
  const manager = new ExecutionManager({
    store: options.store,
    executor,
    delivery,
    secrets,
    logger,
    maxLogBytes: 64 * 1024,
  });
  await manager.start();
  delivery.start();
  return {
    executor,
    manager,
    received,
    async stop() {
      await delivery.stop();
      await manager.stop();
    },
  };
}

/**
 * A TCP proxy in front of the apiserver that can be cut and restored, to
 * make the apiserver unreachable for a while without touching the cluster.
 */
export async function startCuttableProxy(target: string) {
  const url = new URL(target);
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = net.createServer(client => {
        const upstream = net.connect(Number(url.port || 443), url.hostname);
        sockets.add(client);
        sockets.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as net.AddressInfo).port;
        resolve();
      });
    });
  await listen();
  return {
    get url() {
      return `https://127.0.0.1:${port}`;
    },
    async cut() {
      await new Promise<void>(resolve => {
        server!.close(() => resolve());
        for (const s of sockets) s.destroy();
        sockets.clear();
      });
    },
    async restore() {
      await listen();
    },
    async close() {
      await this.cut().catch(() => undefined);
    },
  };
}

/** A copy of a kubeconfig pointing at another server URL (same TLS identity). */
export function kubeConfigVia(base: KubeConfig, server: string): KubeConfig {
  const cluster = base.getCurrentCluster()!;
  const user = base.getCurrentUser()!;
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser({ ...cluster, server }, user);
  return kc;
}
