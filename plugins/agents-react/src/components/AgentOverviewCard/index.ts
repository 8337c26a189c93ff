export { AgentOverviewCard } from './AgentOverviewCard';
