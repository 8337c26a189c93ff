import { Config } from '@backstage/config';
import fs from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { TASKS_NAMESPACE } from './admission';

/** One cluster + namespace the infra control plane runs Jobs in. @public */
export interface KubernetesClusterTarget {
  name: string;
  namespace: string;
  kubeConfig: KubeConfig;
  /**
   * Where generic platform tasks (the `kubernetes:job:create` scaffolder
   * action, image builds) run, and as whom: never the runs namespace, never
   * the run identity. Default: `agent-platform-tasks` with the cluster's
   * credentials.
   */
  tasks?: { namespace: string; kubeConfig: KubeConfig };
}

/**
 * The task identity's kubeconfig: the cluster's server and CA with the task
 * ServiceAccount's token from `tokenPath`, or the cluster's own credentials
 * when no token is configured (a development cluster).
 */
function taskKubeConfig(cluster: KubeConfig, tokenPath?: string): KubeConfig {
  if (!tokenPath) return cluster;
  const current = cluster.getCurrentCluster();
  if (!current)
    throw new Error('the cluster kubeconfig has no current cluster');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [current],
    users: [
      { name: 'task-runner', token: fs.readFileSync(tokenPath, 'utf8').trim() },
    ],
    contexts: [{ name: 'tasks', cluster: current.name, user: 'task-runner' }],
    currentContext: 'tasks',
  });
  return kc;
}

/**
 * The clusters of `infraControlPlane.kubernetes.clusters`, with their
 * kubeconfig loaded (in-cluster ServiceAccount or a kubeconfig file).
 *
 * @public
 */
export function loadClusterTargets(config: Config): KubernetesClusterTarget[] {
  const k8s = config.getOptionalConfig('infraControlPlane.kubernetes');
  if (!k8s) return [];
  return k8s.getConfigArray('clusters').map(c => {
    const kc = new KubeConfig();
    const provider = c.getOptionalString('authProvider') ?? 'kubeconfig';
    if (provider === 'inCluster') {
      kc.loadFromCluster();
    } else {
      const file = c.getOptionalString('kubeconfigPath');
      if (file) kc.loadFromFile(file);
      else kc.loadFromDefault();
      const context = c.getOptionalString('context');
      if (context) kc.setCurrentContext(context);
    }
    const tasks = c.getOptionalConfig('tasks');
    return {
      name: c.getString('name'),
      namespace: c.getString('namespace'),
      kubeConfig: kc,
      tasks: {
        namespace: tasks?.getOptionalString('namespace') ?? TASKS_NAMESPACE,
        kubeConfig: taskKubeConfig(kc, tasks?.getOptionalString('tokenPath')),
      },
    };
  });
}
