import { Config } from '@backstage/config';
import { KubeConfig } from '@kubernetes/client-node';

/** One cluster + namespace the infra control plane runs Jobs in. @public */
export interface KubernetesClusterTarget {
  name: string;
  namespace: string;
  kubeConfig: KubeConfig;
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
    return {
      name: c.getString('name'),
      namespace: c.getString('namespace'),
      kubeConfig: kc,
    };
  });
}
