/**
 * The product control plane backend: validated, policy-checked agent
 * executions with a full record, dispatched to the infra control plane.
 *
 * @packageDocumentation
 */
export { productControlPlanePlugin as default } from './plugin';
