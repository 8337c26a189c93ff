/**
 * Scaffolder module adding `publish:local`: publishing generated repositories
 * into a local folder the catalog reads, for machines without a git host.
 *
 * @packageDocumentation
 */
export { scaffolderModuleLocalPublish as default } from './module';
export { createPublishLocalAction } from './actions/publishLocal';
export type { PublishLocalActionOptions } from './actions/publishLocal';
