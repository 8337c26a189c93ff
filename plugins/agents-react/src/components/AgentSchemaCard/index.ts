export { AgentSchemaCard } from './AgentSchemaCard';
