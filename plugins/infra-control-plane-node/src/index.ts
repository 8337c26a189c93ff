/**
 * Node library of the infra control plane, for other backend modules.
 *
 * @packageDocumentation
 */
export * from './jobSpec';
export * from './clusters';
export * from './extensions';
export * from './admission';
export * from './admissionParams';
