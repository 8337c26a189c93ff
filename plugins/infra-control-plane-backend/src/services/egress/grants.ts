import { ExecutionPlan } from '@internal/plugin-agents-common';
import { EgressGrant } from './types';

/** Platform routes a run may use: one per granted platform tool of that name. */
const PLATFORM_TOOLS = ['llm', 'catalog'];

/**
 * The egress grant of a plan: the `http` tool's `allowHosts`, the platform
 * routes of its granted `llm` / `catalog` tools, valid for the run's timeout
 * plus `graceSeconds` (default 300: queueing, start-up, the executor's own
 * grace) from `now`.
 *
 * @public
 */
export function egressGrantForPlan(
  plan: ExecutionPlan,
  options: { now?: number; graceSeconds?: number; ports?: number[] } = {},
): EgressGrant {
  const now = options.now ?? Date.now();
  const http = plan.tools.find(t => t.name === 'http');
  return {
    executionId: plan.executionId,
    allowHosts: [...(http?.allowHosts ?? [])],
    ...(options.ports ? { ports: [...options.ports] } : {}),
    expiresAt:
      now +
      (plan.resources.timeoutSeconds + (options.graceSeconds ?? 300)) * 1000,
    platform: plan.tools
      .map(t => t.name as string)
      .filter(name => PLATFORM_TOOLS.includes(name)),
  };
}
