export { EntityAgentRunsContent } from './EntityAgentRunsContent';
