import { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';
import {
  AGENT_TOOLS,
  AgentEntity,
  AgentPlan,
  AgentTool,
  GrantedTool,
  ResourceEnvelope,
  SecretReference,
} from '@internal/plugin-agents-common';
import { Knex } from 'knex';
import { ExecutionStore } from '../database/ExecutionStore';
import { PolicyLimitError } from './errors';
import { ImageAllowList } from './ImageAllowList';
import { PlatformSecretGrants } from './PlatformSecretGrants';
import { parseCpu, parseMemory } from './quantity';

/**
 * Policy settings from `productControlPlane.policy`, `.secrets` with
 * `.platformSecrets`, and `.images`.
 */
export interface PolicySettings {
  defaultAgentConcurrency: number;
  agents: Array<{
    agentRef: string;
    concurrency?: number;
    tools?: AgentTool[];
  }>;
  userConcurrency: number;
  allowSync: boolean;
  syncMaxTimeoutSeconds: number;
  defaultResources: ResourceEnvelope;
  allowedTools: AgentTool[];
  httpAllowHosts: string[];
  /** Which agent may use which platform secret. */
  platformSecrets: PlatformSecretGrants;
  /** Which images agents may run. */
  images: ImageAllowList;
}

/** What policy grants one run. */
export interface PolicyDecision {
  resources: ResourceEnvelope;
  tools: GrantedTool[];
  secrets: SecretReference[];
}

/** The admission counters one run is checked against. */
export interface AdmissionSubject {
  agentRef: string;
  userRef: string;
  holderRef: string;
  plan: AgentPlan;
  day: string;
}

/**
 * Every policy decision in one place: resource envelope, tools, secrets,
 * mode, and the concurrency and quota counters checked at admission. All
 * entry points (REST, UI, actions) go through ExecutionService, which asks
 * this service.
 */
export class PolicyService {
  static fromConfig(config: Config): PolicyService {
    const policy = config.getOptionalConfig('productControlPlane.policy');
    const resources = policy?.getOptionalConfig('defaultResources');
    const tools = policy?.getOptionalConfig('tools');
    const allowed = (tools?.getOptionalStringArray('allow') ?? [
      ...AGENT_TOOLS,
    ]) as AgentTool[];
    return new PolicyService({
      defaultAgentConcurrency:
        policy?.getOptionalNumber('defaultAgentConcurrency') ?? 20,
      agents: (policy?.getOptionalConfigArray('agents') ?? []).map(a => ({
        agentRef: a.getString('agentRef'),
        concurrency: a.getOptionalNumber('concurrency'),
        tools: a.getOptionalStringArray('tools') as AgentTool[] | undefined,
      })),
      userConcurrency: policy?.getOptionalNumber('userConcurrency') ?? 10,
      allowSync: policy?.getOptionalBoolean('allowSync') ?? true,
      syncMaxTimeoutSeconds:
        policy?.getOptionalNumber('syncMaxTimeoutSeconds') ?? 300,
      defaultResources: {
        cpu: resources?.getOptionalString('cpu') ?? '500m',
        memory: resources?.getOptionalString('memory') ?? '256Mi',
        timeoutSeconds: resources?.getOptionalNumber('timeoutSeconds') ?? 300,
      },
      allowedTools: allowed,
      httpAllowHosts: tools?.getOptionalStringArray('httpAllowHosts') ?? [],
      platformSecrets: PlatformSecretGrants.fromConfig(config),
      images: ImageAllowList.fromConfig(config),
    });
  }

  constructor(readonly settings: PolicySettings) {}

  /** The most a run of this agent under this plan may use. */
  ceiling(spec: AgentEntity['spec'], plan: AgentPlan): ResourceEnvelope {
    const d = this.settings.defaultResources;
    const timeouts = [
      spec.resources?.timeoutSeconds ?? d.timeoutSeconds,
      plan.maxTimeoutSeconds ?? Infinity,
    ];
    return {
      cpu: spec.resources?.cpu ?? d.cpu,
      memory: spec.resources?.memory ?? d.memory,
      timeoutSeconds: Math.min(...timeouts),
    };
  }

  /**
   * Decides envelope, tools and secrets of one run, or throws InputError
   * naming the field that asks for more than allowed, or NotAllowedError
   * naming an image outside the allow-list or a platform secret the agent is
   * not granted.
   */
  decide(options: {
    agentRef: string;
    spec: AgentEntity['spec'];
    plan: AgentPlan;
    mode: 'sync' | 'async';
    requested?: Partial<ResourceEnvelope>;
    userSecrets: Array<{ id: string; name: string }>;
  }): PolicyDecision {
    const { spec, plan, requested } = options;
    this.settings.images.check(spec.runtime.image, options.agentRef);
    const ceiling = this.ceiling(spec, plan);
    const resources: ResourceEnvelope = { ...ceiling };
    if (requested?.cpu !== undefined) {
      if (
        parseCpu(requested.cpu, 'resources.cpu') >
        parseCpu(ceiling.cpu, 'ceiling cpu')
      ) {
        throw new InputError(
          `resources.cpu ${requested.cpu} exceeds the allowed ${ceiling.cpu}`,
        );
      }
      resources.cpu = requested.cpu;
    }
    if (requested?.memory !== undefined) {
      if (
        parseMemory(requested.memory, 'resources.memory') >
        parseMemory(ceiling.memory, 'ceiling memory')
      ) {
        throw new InputError(
          `resources.memory ${requested.memory} exceeds the allowed ${ceiling.memory}`,
        );
      }
      resources.memory = requested.memory;
    }
    if (requested?.timeoutSeconds !== undefined) {
      if (requested.timeoutSeconds > ceiling.timeoutSeconds) {
        throw new InputError(
          `resources.timeoutSeconds ${requested.timeoutSeconds} exceeds the allowed ${ceiling.timeoutSeconds} (plan ${plan.name})`,
        );
      }
      resources.timeoutSeconds = requested.timeoutSeconds;
    }

    if (options.mode === 'sync') {
      if (!this.settings.allowSync) {
        throw new InputError('mode sync is not allowed here; use async');
      }
      if (resources.timeoutSeconds > this.settings.syncMaxTimeoutSeconds) {
        throw new InputError(
          `mode sync is only allowed for runs with a timeout of at most ${this.settings.syncMaxTimeoutSeconds} s (this run: ${resources.timeoutSeconds} s); use async`,
        );
      }
    }

    const agentOverride = this.settings.agents.find(
      a => a.agentRef === options.agentRef,
    );
    const granted = agentOverride?.tools ?? this.settings.allowedTools;
    const tools: GrantedTool[] = (spec.tools ?? [])
      .filter(t => granted.includes(t))
      .map(name =>
        name === 'http'
          ? { name, allowHosts: [...this.settings.httpAllowHosts] }
          : { name },
      );

    const secrets: SecretReference[] = [];
    const subject = { agentRef: options.agentRef, owner: spec.owner };
    for (const name of spec.secrets ?? []) {
      const own = options.userSecrets.find(s => s.name === name);
      if (own) {
        secrets.push({ name, source: 'user', ref: `user:${own.id}` });
        continue;
      }
      this.settings.platformSecrets.assertGranted(name, subject);
      if (this.settings.platformSecrets.isGranted(name, subject)) {
        // The infra plane finds platform values by name in its own config.
        secrets.push({ name, source: 'platform', ref: name });
      }
    }
    return { resources, tools, secrets };
  }

  /** Platform secret names an agent may use (for the secrets listing). */
  platformSecretsFor(agentRef: string, spec: AgentEntity['spec']): string[] {
    return this.settings.platformSecrets.grantedTo({
      agentRef,
      owner: spec.owner,
    });
  }

  /** The lock rows admission of this subject must hold. */
  lockScopes(subject: Pick<AdmissionSubject, 'agentRef' | 'userRef'>) {
    return [`agent:${subject.agentRef}`, `user:${subject.userRef}`];
  }

  agentConcurrency(agentRef: string): number {
    return (
      this.settings.agents.find(a => a.agentRef === agentRef)?.concurrency ??
      this.settings.defaultAgentConcurrency
    );
  }

  /**
   * Checks the counters inside the admission transaction (which holds the
   * locks of `lockScopes`), so they are exact under concurrent requests.
   */
  async admit(
    trx: Knex.Transaction,
    store: ExecutionStore,
    s: AdmissionSubject,
  ): Promise<void> {
    const agentLimit = this.agentConcurrency(s.agentRef);
    const agentActive = await store.countActive(trx, { agentRef: s.agentRef });
    if (agentActive >= agentLimit) {
      throw new PolicyLimitError(
        'agent-concurrency',
        `${s.agentRef} already has ${agentActive} active runs (limit ${agentLimit}); try again when one finishes`,
      );
    }
    if (s.plan.concurrency !== undefined) {
      const holderActive = await store.countActive(trx, {
        agentRef: s.agentRef,
        holderRef: s.holderRef,
      });
      if (holderActive >= s.plan.concurrency) {
        throw new PolicyLimitError(
          'holder-concurrency',
          `Plan ${s.plan.name} allows ${s.plan.concurrency} concurrent runs of ${s.agentRef} for ${s.holderRef}, ${holderActive} are active; try again when one finishes`,
        );
      }
    }
    const userActive = await store.countActive(trx, { userRef: s.userRef });
    if (userActive >= this.settings.userConcurrency) {
      throw new PolicyLimitError(
        'user-concurrency',
        `${s.userRef} already has ${userActive} active runs (limit ${this.settings.userConcurrency})`,
      );
    }
    if (s.plan.runsPerDay !== undefined) {
      const today = await store.countDay(trx, {
        agentRef: s.agentRef,
        holderRef: s.holderRef,
        plan: s.plan.name,
        day: s.day,
      });
      if (today >= s.plan.runsPerDay) {
        throw new PolicyLimitError(
          'daily-quota',
          `Plan ${s.plan.name} allows ${s.plan.runsPerDay} runs per day of ${s.agentRef} for ${s.holderRef}; today's quota is used up`,
        );
      }
    }
  }
}
