import os from 'node:os';
import path from 'node:path';
import {
  LoggerService,
  RootConfigService,
  resolvePackagePath,
} from '@backstage/backend-plugin-api';
import { SecretResolver } from './secrets';
import { PlatformEgress } from './createPlatformEgress';
import { AgentExecutor } from './executors/types';
import { BubblewrapSandbox } from './executors/sandbox/BubblewrapSandbox';
import { NoSandbox } from './executors/sandbox/NoSandbox';
import { RunSandbox } from './executors/sandbox/types';
import { LocalProcessExecutor } from './executors/LocalProcessExecutor';
import { findRuntimePath } from './executors/localRunSupport';

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
  const llmModel = config.getOptionalString(
    'infraControlPlane.runtime.llmModel',
  );
  if (llmBaseUrl) env.AGENT_LLM_BASE_URL = llmBaseUrl;
  if (llmModel) env.AGENT_LLM_MODEL = llmModel;
  return env;
}

/** The local executor's sandbox from `infraControlPlane.local.sandbox` (default `bubblewrap`). */
export function createSandbox(
  config: RootConfigService,
  logger: LoggerService,
  runtimePath: string,
  maxConcurrency: number,
): RunSandbox {
  const local = config.getOptionalConfig('infraControlPlane.local');
  const kind = local?.getOptionalString('sandbox') ?? 'bubblewrap';
  if (kind === 'none') {
    logger.warn(
      'infraControlPlane.local.sandbox is "none": agents run as plain child processes with the portal\'s own user, files, environment and network. Use this only for agents you trust, never for a shared portal.',
    );
    return new NoSandbox({ runtimePath });
  }
  if (kind !== 'bubblewrap') {
    throw new Error(
      `infraControlPlane.local.sandbox must be "bubblewrap" or "none", not "${kind}"`,
    );
  }
  return new BubblewrapSandbox({
    runtimePath,
    scratchMiB: local?.getOptionalNumber('scratchMiB') ?? 64,
    maxProcesses: local?.getOptionalNumber('maxProcesses') ?? 64,
    uidBase: local?.getOptionalNumber('sandboxUidBase') ?? 810000,
    // Queued runs do not hold one; a few spare for runs still being cleaned up.
    uidCount: maxConcurrency + 8,
    cgroupRoot: local?.getOptionalString('cgroupRoot'),
  });
}

/** Builds the executor chosen by `infraControlPlane.executor`. */
export async function createExecutor(deps: {
  config: RootConfigService;
  logger: LoggerService;
  secrets: SecretResolver;
  egress: PlatformEgress;
}): Promise<AgentExecutor> {
  const { config, logger, secrets, egress } = deps;
  const kind =
    config.getOptionalString('infraControlPlane.executor') ?? 'local';
  if (kind === 'kubernetes') {
    const { KubernetesJobExecutor } = await import(
      './executors/KubernetesJobExecutor'
    );
    return KubernetesJobExecutor.fromConfig(config, {
      logger,
      baseEnv: runtimeBaseEnv(config),
      resolveUserSecrets: plan => secrets.resolveUserSecrets(plan),
      egressCredential: plan => egress.credentialFor(plan),
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
  const resolvedRuntimePath = path.resolve(
    runtimePath ?? 'agent-runtime-not-found',
  );
  const maxConcurrency =
    config.getOptionalNumber('infraControlPlane.local.maxConcurrency') ??
    Math.max(1, os.cpus().length);
  return new LocalProcessExecutor({
    logger,
    secrets,
    runtimePath: resolvedRuntimePath,
    sandbox: createSandbox(config, logger, resolvedRuntimePath, maxConcurrency),
    maxConcurrency,
    killGraceSeconds:
      config.getOptionalNumber('infraControlPlane.local.killGraceSeconds') ?? 5,
    timeoutGraceSeconds:
      config.getOptionalNumber('infraControlPlane.local.timeoutGraceSeconds') ??
      5,
    baseEnv: runtimeBaseEnv(config),
    egress: egress.local,
  });
}
