/**
 * Isomorphic types, JSON schema, validator and permissions of the Agent kind.
 *
 * @packageDocumentation
 */
export * from './types';
export * from './validation';
export * from './permissions';
export * from './pricing';
export * from './schemaFields';
export * from './contracts';
export * from './marketplaceApi';
export * from './productControlPlaneApi';
export * from './boundary';
