import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import { actionsRegistryServiceRef } from '@backstage/backend-plugin-api/alpha';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import {
  agentPlatformPermissions,
  PRODUCT_CONTROL_PLANE_PLUGIN_ID,
} from '@internal/plugin-agents-common';
import { registerActions } from './actions';
import { ExecutionStore } from './database/ExecutionStore';
import { createRouter } from './router';
import { AgentResolver } from './services/AgentResolver';
import { Dispatcher } from './services/Dispatcher';
import { ExecutionService } from './services/ExecutionService';
import { LayerClient } from './services/LayerClient';
import { PolicyService } from './services/PolicyService';
import { SecretCipher } from './services/SecretCipher';
import { StuckRunSweeper } from './services/StuckRunSweeper';
import { UserSecretService } from './services/UserSecretService';
import { UserSecretStore } from './database/UserSecretStore';
import { RunCatalogAccess } from './services/RunCatalogAccess';

/**
 * The product control plane: `/api/product-control-plane`.
 *
 * @public
 */
export const productControlPlanePlugin = createBackendPlugin({
  pluginId: PRODUCT_CONTROL_PLANE_PLUGIN_ID,
  register(env) {
    env.registerInit({
      deps: {
        logger: coreServices.logger,
        config: coreServices.rootConfig,
        database: coreServices.database,
        httpRouter: coreServices.httpRouter,
        auth: coreServices.auth,
        httpAuth: coreServices.httpAuth,
        userInfo: coreServices.userInfo,
        discovery: coreServices.discovery,
        scheduler: coreServices.scheduler,
        permissions: coreServices.permissions,
        permissionsRegistry: coreServices.permissionsRegistry,
        auditor: coreServices.auditor,
        lifecycle: coreServices.lifecycle,
        catalog: catalogServiceRef,
        actionsRegistry: actionsRegistryServiceRef,
      },
      async init(deps) {
        const { config, logger } = deps;
        const pcp = config.getOptionalConfig('productControlPlane');
        // User-secret keys come from config or the environment, never the DB.
        const cipher = SecretCipher.fromConfig(config);
        const store = await ExecutionStore.create(deps.database, {
          migrationParams: UserSecretService.migrationParams(cipher),
        });
        const policy = PolicyService.fromConfig(config);
        const layers = new LayerClient(deps.discovery, deps.auth);

        deps.permissionsRegistry.addPermissions(agentPlatformPermissions);

        // The dispatcher and the service refer to each other.
        const ref: { executions?: ExecutionService } = {};
        const dispatcher = new Dispatcher(
          store,
          layers,
          () => ref.executions!,
          logger,
        );
        const executions = new ExecutionService({
          store,
          policy,
          agents: new AgentResolver(deps.catalog, store),
          layers,
          auth: deps.auth,
          userInfo: deps.userInfo,
          permissions: deps.permissions,
          auditor: deps.auditor,
          logger,
          userSecrets: new UserSecretService(
            new UserSecretStore(store.knex),
            cipher,
            logger,
          ),
          catalogAccess: new RunCatalogAccess({
            knex: store.knex,
            auth: deps.auth,
            cipher,
            logger,
          }),
          platformSecrets:
            (pcp?.getOptionalConfig('secrets')?.get() as Record<
              string,
              string
            >) ?? {},
          maxResultBytes:
            pcp?.getOptionalNumber('maxResultBytes') ?? 1024 * 1024,
          syncMaxWaitSeconds:
            pcp?.getOptionalNumber('sync.maxWaitSeconds') ?? 30,
          onOutbox: () => dispatcher.trigger(),
        });
        ref.executions = executions;

        await deps.scheduler.scheduleTask({
          id: 'product-control-plane-outbox',
          frequency: {
            seconds: pcp?.getOptionalNumber('dispatcher.intervalSeconds') ?? 5,
          },
          timeout: { minutes: 5 },
          scope: 'local',
          fn: () => dispatcher.drain(),
        });
        const retentionDays = pcp?.getOptionalNumber('retention.days') ?? 90;
        await deps.scheduler.scheduleTask({
          id: 'product-control-plane-retention',
          frequency: { hours: 6 },
          timeout: { minutes: 10 },
          initialDelay: { minutes: 1 },
          fn: async () => {
            const before = new Date(
              Date.now() - retentionDays * 86_400_000,
            ).toISOString();
            const deleted = await store.deleteFinishedBefore(before);
            if (deleted) {
              logger.info('Old executions deleted', { deleted, retentionDays });
            }
          },
        });
        const sweeper = new StuckRunSweeper({
          store,
          executions,
          logger,
          graceSeconds: pcp?.getOptionalNumber('stuckRunGraceSeconds') ?? 300,
        });
        await deps.scheduler.scheduleTask({
          id: 'product-control-plane-stuck-runs',
          frequency: { seconds: 30 },
          timeout: { minutes: 5 },
          initialDelay: { seconds: 30 },
          fn: async () => {
            await sweeper.sweep();
          },
        });
        deps.lifecycle.addShutdownHook(() => dispatcher.idle());

        registerActions({
          actionsRegistry: deps.actionsRegistry,
          catalog: deps.catalog,
          executions,
          logger,
        });

        deps.httpRouter.use(
          await createRouter({
            executions,
            httpAuth: deps.httpAuth,
            layers,
            logger,
          }),
        );
      },
    });
  },
});
