import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { scaffolderActionsExtensionPoint } from '@backstage/plugin-scaffolder-node';
import { createAgentRunAction } from './actions/agentRun';
import { createKubernetesJobCreateAction } from './actions/kubernetesJobCreate';

/**
 * Scaffolder actions of the Agent Platform: `agent:run` and
 * `kubernetes:job:create`.
 *
 * @public
 */
export const scaffolderModuleAgentPlatform = createBackendModule({
  pluginId: 'scaffolder',
  moduleId: 'agent-platform',
  register(reg) {
    reg.registerInit({
      deps: {
        scaffolder: scaffolderActionsExtensionPoint,
        auth: coreServices.auth,
        discovery: coreServices.discovery,
        config: coreServices.rootConfig,
      },
      async init({ scaffolder, auth, discovery, config }) {
        scaffolder.addActions(
          createAgentRunAction({ auth, discovery }),
          createKubernetesJobCreateAction({ config }),
        );
      },
    });
  },
});
