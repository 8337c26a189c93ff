import { randomBytes } from 'node:crypto';
import {
  DiscoveryService,
  LoggerService,
  RootConfigService,
} from '@backstage/backend-plugin-api';
import { ExecutionPlan, RuntimeEvent } from '@internal/plugin-agents-common';
import {
  EgressDecision,
  EgressPlatformRoute,
  EgressProxy,
  egressGrantForPlan,
  platformOrigin,
} from './egress';
import { RunEgress } from './executors/LocalProcessExecutor';

/** Tools whose traffic goes through the egress proxy. */
const NETWORK_TOOLS = ['http', 'llm', 'catalog'];

/** The platform's egress: the proxy, and what each executor needs of it. */
export interface PlatformEgress {
  proxy: EgressProxy;
  /** For the local executor: a Unix socket per run, bound into its sandbox. */
  local: RunEgress;
  /** For Kubernetes: the credential a pod presents to the `agent-egress` Service. */
  credentialFor(plan: ExecutionPlan): string;
}

/**
 * Builds the egress proxy from `infraControlPlane.egress`: the credential
 * key (required with several replicas; a random one per process otherwise),
 * operator exceptions to the private-address rule, and the platform routes
 * of the `catalog` tool (GET only, with the requester's own catalog token
 * added outside the run, never seen by the agent) and of the `llm` tool (the
 * configured endpoint).
 */
export async function createPlatformEgress(deps: {
  config: RootConfigService;
  logger: LoggerService;
  discovery: DiscoveryService;
  onDecision: (decision: EgressDecision) => void;
  /**
   * The requester-bound catalog token of a run (from the product control
   * plane); throws when the run has none.
   */
  catalogAccess: (
    executionId: string,
  ) => Promise<{ token: string; expiresAt: string }>;
  /** A per-run secret value (the run's credential) to redact from its output. */
  onRunSecret: (executionId: string, value: string) => Promise<void>;
}): Promise<PlatformEgress> {
  const { config, discovery } = deps;
  const egress = config.getOptionalConfig('infraControlPlane.egress');
  const configuredKey = egress?.getOptionalString('key');
  if (configuredKey !== undefined && Buffer.byteLength(configuredKey) < 32) {
    throw new Error(
      'infraControlPlane.egress.key must be at least 32 characters',
    );
  }
  // The catalog route acts as the run's requester: the product control plane
  // keeps the requester's own catalog token while the run is unfinished, and
  // the proxy adds it to the run's (GET only) requests. No token for the
  // run (a run requested by a service, or one that ended): refused.
  const catalogTokens = new Map<string, { token: string; until: number }>();
  const routes: Record<string, EgressPlatformRoute> = {
    catalog: {
      target: await discovery.getBaseUrl('catalog'),
      methods: ['GET'],
      headers: async executionId => {
        let cached = catalogTokens.get(executionId);
        if (!cached || cached.until < Date.now()) {
          const access = await deps.catalogAccess(executionId);
          cached = {
            token: access.token,
            // Re-asked every minute, so an ended run loses access within it.
            until: Math.min(Date.now() + 60_000, Date.parse(access.expiresAt)),
          };
          catalogTokens.set(executionId, cached);
        }
        return { authorization: `Bearer ${cached.token}` };
      },
    },
  };
  const llmBaseUrl = config.getOptionalString(
    'infraControlPlane.runtime.llmBaseUrl',
  );
  if (llmBaseUrl) routes.llm = { target: llmBaseUrl, methods: ['POST'] };
  const allowedPorts = egress?.getOptional<number[]>('ports');
  if (
    allowedPorts !== undefined &&
    (!Array.isArray(allowedPorts) ||
      !allowedPorts.every(p => Number.isInteger(p) && p > 0 && p < 65536))
  ) {
    throw new Error(
      'infraControlPlane.egress.ports must be a list of TCP port numbers',
    );
  }

  const proxy = new EgressProxy({
    key: configuredKey ? Buffer.from(configuredKey) : randomBytes(32),
    allowPrivateCidrs:
      egress?.getOptionalStringArray('allowPrivateCidrs') ?? [],
    platformRoutes: routes,
    onDecision: deps.onDecision,
  });
  const credentialFor = (plan: ExecutionPlan) =>
    proxy.issueCredential(
      egressGrantForPlan(plan, allowedPorts ? { ports: allowedPorts } : {}),
    );

  const local: RunEgress = {
    async open(plan, socketPath) {
      const tools = plan.tools.map(t => t.name as string);
      if (!tools.some(t => NETWORK_TOOLS.includes(t))) return undefined;
      const listener = await proxy.listenUnix(socketPath, {
        executionId: plan.executionId,
      });
      const credential = credentialFor(plan);
      await deps.onRunSecret(plan.executionId, credential);
      return {
        env: innerSocket => ({
          AGENT_EGRESS_PROXY: `unix:${innerSocket}`,
          AGENT_EGRESS_CREDENTIAL: credential,
          ...(tools.includes('catalog')
            ? { AGENT_CATALOG_BASE_URL: platformOrigin('catalog') }
            : {}),
          ...(routes.llm ? { AGENT_LLM_BASE_URL: platformOrigin('llm') } : {}),
        }),
        close: async () => {
          catalogTokens.delete(plan.executionId);
          await listener.close();
        },
      };
    },
  };
  return { proxy, local, credentialFor };
}

/** An egress decision as the run's own log line (refusals as `tool-denied`). */
export function decisionEvent(
  decision: EgressDecision,
): Extract<RuntimeEvent, { type: 'log' | 'tool-denied' }> {
  const ts = new Date().toISOString();
  const target = decision.route
    ? `${decision.route} (platform route)`
    : `${decision.host}:${decision.port}`;
  if (decision.allowed) {
    return {
      type: 'log',
      ts,
      level: 'info',
      message: `egress proxy: allowed ${decision.method} ${target}${
        decision.address ? ` via ${decision.address}` : ''
      }`,
    };
  }
  return {
    type: 'tool-denied',
    ts,
    tool: decision.route ?? 'http',
    message: `egress proxy refused ${decision.method} ${target}: ${
      decision.message ?? decision.reason
    } [${decision.reason}]`,
  };
}
