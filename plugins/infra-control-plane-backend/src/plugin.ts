import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import {
  infraControlPlaneSecretsExtensionPoint,
  UserSecretResolver,
} from '@internal/plugin-infra-control-plane-node';
import { INFRA_CONTROL_PLANE_PLUGIN_ID } from '@internal/plugin-agents-common';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { ExecutionStore } from './database/ExecutionStore';
import { createRouter } from './router';
import { CapacityService } from './services/CapacityService';
import { createExecutor } from './services/createExecutor';
import {
  createPlatformEgress,
  decisionEvent,
} from './services/createPlatformEgress';
import { UpdateDelivery } from './services/delivery/UpdateDelivery';
import { ExecutionManager } from './services/ExecutionManager';
import {
  ProductControlPlaneSecretResolver,
  SecretResolver,
} from './services/secrets';

/**
 * The infra control plane: runs execution plans with the configured executor
 * (local processes or Kubernetes Jobs), watches them, keeps logs and results
 * and reports every transition to the product control plane.
 *
 * @public
 */
export const infraControlPlanePlugin = createBackendPlugin({
  pluginId: INFRA_CONTROL_PLANE_PLUGIN_ID,
  register(env) {
    let userResolver: UserSecretResolver | undefined;
    env.registerExtensionPoint(infraControlPlaneSecretsExtensionPoint, {
      setUserSecretResolver(resolver) {
        if (userResolver) {
          throw new Error('A user secret resolver is already registered');
        }
        userResolver = resolver;
      },
    });
    env.registerInit({
      deps: {
        config: coreServices.rootConfig,
        logger: coreServices.logger,
        database: coreServices.database,
        httpRouter: coreServices.httpRouter,
        httpAuth: coreServices.httpAuth,
        auth: coreServices.auth,
        discovery: coreServices.discovery,
        lifecycle: coreServices.lifecycle,
        catalog: catalogServiceRef,
      },
      async init({
        config,
        logger,
        database,
        httpRouter,
        httpAuth,
        auth,
        discovery,
        lifecycle,
        catalog,
      }) {
        const store = await ExecutionStore.create(database);
        const secrets = new SecretResolver(config);
        const pcpClient = new ProductControlPlaneSecretResolver({
          auth,
          discovery,
        });
        secrets.setUserResolver(userResolver ?? pcpClient);
        const delivery = new UpdateDelivery({ store, auth, discovery, logger });
        // eslint-disable-next-line prefer-const
        let manager: ExecutionManager;
        const egress = await createPlatformEgress({
          config,
          logger,
          discovery,
          onDecision: decision => {
            if (!decision.executionId) return;
            manager
              .recordPlatformEvent(
                decision.executionId,
                decisionEvent(decision),
              )
              .catch(error =>
                logger.warn('Recording an egress decision failed', {
                  executionId: decision.executionId,
                  error: String(error),
                }),
              );
          },
          catalogAccess: id => pcpClient.catalogAccess(id),
          onRunSecret: (id, value) => manager.addSecretValue(id, value),
        });
        const executor = await createExecutor({
          config,
          logger,
          secrets,
          egress,
        });
        manager = new ExecutionManager({
          store,
          executor,
          delivery,
          secrets,
          logger,
          maxLogBytes:
            config.getOptionalNumber('infraControlPlane.logs.maxBytes') ??
            256 * 1024,
        });
        const capacity = new CapacityService(store, executor);

        httpRouter.addAuthPolicy({ path: '/health', allow: 'unauthenticated' });
        httpRouter.use(
          await createRouter({
            httpAuth,
            logger,
            manager,
            store,
            executor,
            capacity,
            catalog,
          }),
        );

        await manager.start();
        delivery.start();
        if (executor.kind === 'kubernetes') {
          // Pods granted `http` reach the internet only through this listener
          // (the agent-egress Service, k8s/25-egress-proxy.yaml).
          const port =
            config.getOptionalNumber('infraControlPlane.egress.port') ?? 3128;
          await egress.proxy.listenTcp(port);
          logger.info('Egress proxy listening', { port });
        }
        logger.info('Infra control plane started', { executor: executor.kind });
        lifecycle.addShutdownHook(async () => {
          await delivery.stop();
          await manager.stop();
          await egress.proxy.close();
        });
      },
    });
  },
});
