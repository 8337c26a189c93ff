import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { MARKETPLACE_PLUGIN_ID } from '@internal/plugin-agents-common';
import { applyMigrations, MarketplaceStore } from './database/MarketplaceStore';
import { AvailabilityService } from './services/AvailabilityService';
import { ListingSync } from './services/ListingSync';
import { MarketplaceService } from './services/MarketplaceService';
import { createRouter } from './router';

/**
 * The marketplace backend plugin: discovery, visibility, plans, entitlements
 * and usage.
 *
 * @public
 */
export const marketplacePlugin = createBackendPlugin({
  pluginId: MARKETPLACE_PLUGIN_ID,
  register(env) {
    env.registerInit({
      deps: {
        config: coreServices.rootConfig,
        logger: coreServices.logger,
        database: coreServices.database,
        httpRouter: coreServices.httpRouter,
        httpAuth: coreServices.httpAuth,
        userInfo: coreServices.userInfo,
        permissions: coreServices.permissions,
        auth: coreServices.auth,
        discovery: coreServices.discovery,
        scheduler: coreServices.scheduler,
        catalog: catalogServiceRef,
      },
      async init(deps) {
        const { config, logger, database, httpRouter, scheduler } = deps;
        const knex = await database.getClient();
        if (!database.migrations?.skip) await applyMigrations(knex);
        const store = new MarketplaceStore(knex);
        const sync = new ListingSync({
          catalog: deps.catalog,
          auth: deps.auth,
          store,
          logger,
        });
        const availability = new AvailabilityService({
          discovery: deps.discovery,
          auth: deps.auth,
          logger,
          degradedAfterFailures:
            config.getOptionalNumber(
              'marketplace.availability.degradedAfterFailures',
            ) ?? 3,
        });
        const service = new MarketplaceService({
          store,
          sync,
          availability,
          currency: config.getOptionalString('marketplace.currency') ?? 'USD',
        });

        const frequencySeconds =
          config.getOptionalNumber('marketplace.sync.frequencySeconds') ?? 300;
        await scheduler.scheduleTask({
          id: 'marketplace-listing-sync',
          frequency: { seconds: frequencySeconds },
          timeout: { minutes: 5 },
          initialDelay: {
            seconds:
              config.getOptionalNumber(
                'marketplace.sync.initialDelaySeconds',
              ) ?? 5,
          },
          fn: async () => {
            await sync.syncAll();
          },
        });

        httpRouter.use(
          await createRouter({
            service,
            sync,
            httpAuth: deps.httpAuth,
            userInfo: deps.userInfo,
            permissions: deps.permissions,
            logger,
          }),
        );
        httpRouter.addAuthPolicy({ path: '/agents', allow: 'unauthenticated' });
      },
    });
  },
});
