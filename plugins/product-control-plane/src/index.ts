/**
 * The Runs tab of Agent entity pages: run form, history and live execution page.
 *
 * @packageDocumentation
 */
export { productControlPlanePlugin, EntityAgentRunsContent } from './plugin';
export { productControlPlaneApiRef } from './api/ProductControlPlaneApi';
export type { ProductControlPlaneApi } from './api/ProductControlPlaneApi';
export { ProductControlPlaneClient } from './api/ProductControlPlaneClient';
export * from './api/types';
export { ExecutionStatusChip } from './components/ExecutionStatusChip';
