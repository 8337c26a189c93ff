import { createBackendModule } from '@backstage/backend-plugin-api';
import { catalogProcessingExtensionPoint } from '@backstage/plugin-catalog-node';
import { AgentEntitiesProcessor } from './processor/AgentEntitiesProcessor';

/**
 * Teaches the catalog the Agent kind.
 *
 * @public
 */
export const catalogModuleAgents = createBackendModule({
  pluginId: 'catalog',
  moduleId: 'agents',
  register(reg) {
    reg.registerInit({
      deps: { catalog: catalogProcessingExtensionPoint },
      async init({ catalog }) {
        catalog.addProcessor(new AgentEntitiesProcessor());
      },
    });
  },
});
