export { AgentPlansCard } from './AgentPlansCard';
