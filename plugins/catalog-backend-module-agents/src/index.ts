/**
 * Catalog module that validates Agent entities and emits their relations.
 *
 * @packageDocumentation
 */
export { catalogModuleAgents as default } from './module';
export { AgentEntitiesProcessor } from './processor/AgentEntitiesProcessor';
