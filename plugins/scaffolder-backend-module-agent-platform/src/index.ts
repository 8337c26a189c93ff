/**
 * Scaffolder actions agent:run and kubernetes:job:create.
 *
 * @packageDocumentation
 */
export { scaffolderModuleAgentPlatform as default } from './module';
export { createAgentRunAction } from './actions/agentRun';
export type { AgentRunActionOptions } from './actions/agentRun';
export { createKubernetesJobCreateAction } from './actions/kubernetesJobCreate';
export type { KubernetesJobCreateActionOptions } from './actions/kubernetesJobCreate';
