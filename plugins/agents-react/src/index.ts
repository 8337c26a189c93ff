/**
 * Shared React components for Agent entities.
 *
 * @packageDocumentation
 */
export { AgentOverviewCard } from './components/AgentOverviewCard';
export { AgentPlansCard } from './components/AgentPlansCard';
export { AgentSchemaCard } from './components/AgentSchemaCard';
