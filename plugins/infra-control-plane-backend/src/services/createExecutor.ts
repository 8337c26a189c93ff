import os from 'node:os';
import path from 'node:path';
import {
  AuthService,
  DiscoveryService,
  LoggerService,
  RootConfigService,
  resolvePackagePath,
} from '@backstage/backend-plugin-api';
import { ExecutionPlan } from '@internal/plugin-agents-common';
import { SecretResolver } from './secrets';
import { AgentExecutor } from './executors/types';
import {
  findRuntimePath,
  LocalProcessExecutor,
} from './executors/LocalProcessExecutor';

/** Env every run gets from `infraControlPlane.runtime`. */
export function runtimeBaseEnv(config: RootConfigService) {
  const env: Record<string, string> = {
    AGENT_MAX_RESULT_BYTES: String(
      config.getOptionalNumber('infraControlPlane.runtime.maxResultBytes') ??
        1024 * 1024,
    ),
    AGENT_HEARTBEAT_SECONDS: String(
      config.getOptionalNumber('infraControlPlane.runtime.heartbeatSeconds') ??
        10,
    ),
  };
  const llmBaseUrl = config.getOptionalString(
    'infraControlPlane.runtime.llmBaseUrl',
  );
  const llmModel = config.getOptionalString('infraControlPlane.runtime.llmModel');
  if (llmBaseUrl) env.AGENT_LLM_BASE_URL = llmBaseUrl;
  if (llmModel) env.AGENT_LLM_MODEL = llmModel;
  return env;
}

/** Builds the executor chosen by `infraControlPlane.executor`. */
export async function createExecutor(deps: {
  config: RootConfigService;
  logger: LoggerService;
  auth: AuthService;
  discovery: DiscoveryService;
  secrets: SecretResolver;
  onRunSecret: (executionId: string, value: string) => Promise<void>;
}): Promise<AgentExecutor> {
  const { config, logger, auth, discovery, secrets } = deps;
  const kind = config.getOptionalString('infraControlPlane.executor') ?? 'local';
  if (kind === 'kubernetes') {
    const { KubernetesJobExecutor } = await import(
      './executors/KubernetesJobExecutor'
    );
    return KubernetesJobExecutor.fromConfig(config, {
      logger,
      baseEnv: runtimeBaseEnv(config),
      resolveUserSecrets: plan => secrets.resolveUserSecrets(plan),
    });
  }
  if (kind !== 'local') {
    throw new Error(
      `infraControlPlane.executor must be "local" or "kubernetes", not "${kind}"`,
    );
  }
  const runtimePath =
    config.getOptionalString('infraControlPlane.local.runtimePath') ??
    findRuntimePath([
      process.cwd(),
      resolvePackagePath('@internal/plugin-infra-control-plane-backend'),
    ]);
  if (!runtimePath) {
    logger.warn(
      'Agent runtime not found (packages/agent-runtime/bin/agent-runtime.js); set infraControlPlane.local.runtimePath',
    );
  }
  return new LocalProcessExecutor({
    logger,
    secrets,
    runtimePath: path.resolve(runtimePath ?? 'agent-runtime-not-found'),
    maxConcurrency:
      config.getOptionalNumber('infraControlPlane.local.maxConcurrency') ??
      Math.max(1, os.cpus().length),
    killGraceSeconds:
      config.getOptionalNumber('infraControlPlane.local.killGraceSeconds') ?? 5,
    timeoutGraceSeconds:
      config.getOptionalNumber('infraControlPlane.local.timeoutGraceSeconds') ??
      5,
    baseEnv: runtimeBaseEnv(config),
    runEnv: async (
      plan: ExecutionPlan,
    ): Promise<{ env: Record<string, string>; secretValues: string[] }> => {
      if (!plan.tools.some(t => t.name === 'catalog')) {
        return { env: {}, secretValues: [] };
      }
      const { token } = await auth.getPluginRequestToken({
        onBehalfOf: await auth.getOwnServiceCredentials(),
        targetPluginId: 'catalog',
      });
      await deps.onRunSecret(plan.executionId, token);
      return {
        env: {
          AGENT_CATALOG_BASE_URL: await discovery.getBaseUrl('catalog'),
          AGENT_CATALOG_TOKEN: token,
        },
        secretValues: [token],
      };
    },
  });
}
