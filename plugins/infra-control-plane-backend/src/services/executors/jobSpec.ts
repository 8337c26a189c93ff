// The Job spec builders live in the node library, shared with the scaffolder module.
export {
  AGENT_CONTAINER,
  ANNOTATIONS,
  LABELS,
  MANAGED_BY,
  SECRETS_DIR,
  buildAgentJob,
  buildHardenedJob,
  jobNameFor,
  labelSafe,
  runSecretNameFor,
  secretLocation,
} from '@internal/plugin-infra-control-plane-node';
export type {
  AgentJobOptions,
  HardenedJobOptions,
} from '@internal/plugin-infra-control-plane-node';
