/**
 * The infra control plane backend plugin: runs execution plans as local
 * processes or hardened Kubernetes Jobs.
 *
 * @packageDocumentation
 */
export {
  infraControlPlanePlugin as default,
  infraControlPlaneSecretsExtensionPoint,
} from './plugin';
export type { InfraControlPlaneSecretsExtensionPoint } from './plugin';
export type { UserSecretResolver } from './services/secrets';
export type {
  AgentExecutor,
  ExecutorExit,
  ExecutorHealth,
  ExecutorListener,
} from './services/executors/types';
export { buildAgentJob, buildHardenedJob, jobNameFor } from './services/executors/jobSpec';
export type { HardenedJobOptions } from './services/executors/jobSpec';
export {
  KubernetesJobExecutor,
  loadClusterTargets,
} from './services/executors/KubernetesJobExecutor';
export type {
  KubernetesClusterTarget,
  KubernetesApiCallCounts,
  KubernetesJobExecutorOptions,
} from './services/executors/KubernetesJobExecutor';
