/**
 * The infra control plane backend plugin: runs execution plans as local
 * processes or hardened Kubernetes Jobs.
 *
 * @packageDocumentation
 */
export { infraControlPlanePlugin as default } from './plugin';
export type {
  AgentExecutor,
  ExecutorExit,
  ExecutorHealth,
  ExecutorListener,
} from './services/executors/types';
export { KubernetesJobExecutor } from './services/executors/KubernetesJobExecutor';
export type {
  KubernetesApiCallCounts,
  KubernetesJobExecutorOptions,
} from './services/executors/KubernetesJobExecutor';
