import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { scaffolderActionsExtensionPoint } from '@backstage/plugin-scaffolder-node';
import { createPublishLocalAction } from './actions/publishLocal';

/**
 * Registers the `publish:local` action with the scaffolder.
 *
 * @public
 */
export const scaffolderModuleLocalPublish = createBackendModule({
  pluginId: 'scaffolder',
  moduleId: 'local-publish',
  register(env) {
    env.registerInit({
      deps: {
        scaffolder: scaffolderActionsExtensionPoint,
        config: coreServices.rootConfig,
        catalog: catalogServiceRef,
        auth: coreServices.auth,
      },
      async init({ scaffolder, config, catalog, auth }) {
        scaffolder.addActions(
          createPublishLocalAction({ config, catalog, auth }),
        );
      },
    });
  },
});
