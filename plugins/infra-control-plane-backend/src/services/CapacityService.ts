import { ExecutionStore } from '../database/ExecutionStore';
import { AgentExecutor } from './executors/types';

/** Availability of one agent as the infra control plane sees it. @public */
export interface AgentCapacity {
  agentRef: string;
  status: 'available' | 'degraded' | 'unavailable';
  reason: string;
}

/** Reasons a run ended that are the platform's fault, not the agent's. */
const INFRA_REASONS = new Set([
  'executor-restarted',
  'spawn-failed',
  'job-lost',
  'job-deleted',
  'backoff-limit-exceeded',
  'dispatch-failed',
]);

/**
 * The availability signal the Marketplace shows per agent: `unavailable`
 * when the executor cannot take runs (runtime missing, cluster unreachable),
 * `degraded` when runs queue beyond capacity or most recent runs of the agent
 * failed for infrastructure reasons, `available` otherwise.
 *
 * @public
 */
export class CapacityService {
  constructor(
    private readonly store: ExecutionStore,
    private readonly executor: AgentExecutor,
  ) {}

  /**
   * Capacity per agent (the given ones, else every agent seen); `visible`
   * narrows them to what the caller may see.
   */
  async report(
    agentRefs: string[],
    visible?: (refs: string[]) => Promise<Set<string>>,
  ) {
    const health = await this.executor.health();
    let refs = agentRefs.length ? agentRefs : await this.store.knownAgents();
    if (visible && refs.length) {
      const seen = await visible(refs);
      refs = refs.filter(ref => seen.has(ref));
    }
    const agents: AgentCapacity[] = [];
    for (const agentRef of refs) {
      agents.push(await this.agent(agentRef, health));
    }
    return {
      executor: { kind: this.executor.kind, ...health },
      agents,
    };
  }

  private async agent(
    agentRef: string,
    health: Awaited<ReturnType<AgentExecutor['health']>>,
  ): Promise<AgentCapacity> {
    if (!health.ok) {
      return { agentRef, status: 'unavailable', reason: health.message };
    }
    if (
      health.capacity !== undefined &&
      (health.queued ?? 0) >= health.capacity
    ) {
      return {
        agentRef,
        status: 'degraded',
        reason: `${health.queued} runs are waiting for capacity (${health.capacity} at a time)`,
      };
    }
    const recent = await this.store.recentOutcomes(agentRef, 10);
    const infra = recent.filter(
      r => r.exitReason && INFRA_REASONS.has(r.exitReason),
    );
    if (recent.length >= 3 && infra.length * 2 > recent.length) {
      return {
        agentRef,
        status: 'degraded',
        reason: `${infra.length} of the last ${recent.length} runs failed for infrastructure reasons`,
      };
    }
    return { agentRef, status: 'available', reason: 'the executor is ready' };
  }
}
