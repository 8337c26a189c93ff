import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Knex } from 'knex';
import {
  BackstageCredentials,
  coreServices,
  createBackendModule,
  createServiceFactory,
  HttpAuthService,
} from '@backstage/backend-plugin-api';
import { AuthenticationError, NotAllowedError } from '@backstage/errors';
import { mockCredentials, mockServices, startTestBackend } from '@backstage/backend-test-utils';
import { permissionsServiceFactory } from '@backstage/backend-defaults/permissions';
import { Entity } from '@backstage/catalog-model';
import { catalogProcessingExtensionPoint } from '@backstage/plugin-catalog-node';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import permissionPlugin from '@backstage/plugin-permission-backend';
import agentsCatalogModule from '@internal/plugin-catalog-backend-module-agents';
import agentPlatformPolicy from '@internal/plugin-permission-backend-module-agent-platform';
import marketplacePlugin, { catalogModuleAgentVisibility } from '../index';

// Test-only: the example catalog is read from the source tree, never from a build.
// eslint-disable-next-line no-restricted-syntax
const repoRoot = path.resolve(__dirname, '../../../..');

/** The example org and agents from catalog/, plus extra test entities. */
export function exampleEntities(extra: Entity[] = []): Entity[] {
  const files = [
    'catalog/org/org.yaml',
    ...fs
      .readdirSync(path.join(repoRoot, 'catalog/agents'))
      .map(dir => `catalog/agents/${dir}/catalog-info.yaml`),
  ];
  const entities = files.flatMap(file =>
    parseAllDocuments(fs.readFileSync(path.join(repoRoot, file), 'utf8')).map(
      d => d.toJSON() as Entity,
    ),
  );
  return [...entities, ...extra].map(e => ({
    ...e,
    metadata: {
      ...e.metadata,
      namespace: 'default',
      annotations: {
        'backstage.io/managed-by-location': 'url:http://test/catalog',
        'backstage.io/managed-by-origin-location': 'url:http://test/catalog',
        ...e.metadata.annotations,
      },
    },
  }));
}

/**
 * The mock httpAuth, except that a user token a plugin obtained on behalf of
 * the user keeps a service actor (as real tokens do). The permission backend
 * refuses "direct" user requests without a resourceRef, so the catalog's
 * conditional authorization needs this. Requests without a token are 'none'.
 */
const httpAuthWithActorFactory = createServiceFactory({
  service: coreServices.httpAuth,
  deps: { plugin: coreServices.pluginMetadata },
  factory({ plugin }): HttpAuthService {
    const auth = mockServices.auth({ pluginId: plugin.getId() });
    return {
      async credentials(req: any, options?: any): Promise<any> {
        const token = String(req.headers.authorization ?? '').match(/^Bearer[ ]+(\S+)$/i)?.[1];
        let credentials: BackstageCredentials = mockCredentials.none();
        if (token) {
          credentials = await auth.authenticate(token, { allowLimitedAccess: options?.allowLimitedAccess });
          const principal = credentials.principal as any;
          if (principal.type === 'user' && token !== mockCredentials.user.token(principal.userEntityRef)) {
            credentials = mockCredentials.user(principal.userEntityRef, { actor: { subject: 'plugin:test' } });
          }
        }
        const type = (credentials.principal as { type: string }).type;
        if (options?.allow && !options.allow.includes(type)) {
          if (type === 'none') throw new AuthenticationError('Missing credentials');
          throw new NotAllowedError(`This endpoint does not allow '${type}' credentials`);
        }
        return credentials;
      },
      async issueUserCookie() {
        return { expiresAt: new Date(Date.now() + 3600_000) };
      },
    };
  },
});

/** The service token another plugin's auth service would send to the marketplace. */
export const pluginHeader = (pluginId: string) =>
  mockCredentials.service.header({
    onBehalfOf: mockCredentials.service(`plugin:${pluginId}`),
    targetPluginId: 'marketplace',
  });

/** Group memberships of the example users (catalog/org/org.yaml). */
export const MEMBERSHIPS: Record<string, string[]> = {
  'user:default/guest': ['group:default/platform-team'],
  'user:default/ada': ['group:default/ml-team'],
  'user:default/grace': ['group:default/data-team'],
  'user:default/linus': ['group:default/platform-team', 'group:default/data-team'],
};

/**
 * Starts the marketplace with the real catalog (fed by an in-memory entity
 * provider), the real permission backend with the portal's policy, and the
 * Agent visibility rule, all on the given database.
 */
export async function startMarketplaceBackend(options: {
  knex: Knex;
  entities: Entity[];
  extraFeatures?: any[];
  config?: Record<string, unknown>;
}) {
  const provider = createBackendModule({
    pluginId: 'catalog',
    moduleId: 'test-entities',
    register(reg) {
      reg.registerInit({
        deps: { catalog: catalogProcessingExtensionPoint },
        async init({ catalog }) {
          catalog.addEntityProvider({
            getProviderName: () => 'test-entities',
            connect: async connection => {
              await connection.applyMutation({
                type: 'full',
                entities: options.entities.map(entity => ({
                  entity,
                  locationKey: 'test',
                })),
              });
            },
          });
        },
      });
    },
  });

  return startTestBackend({
    features: [
      marketplacePlugin,
      catalogModuleAgentVisibility,
      catalogPlugin,
      agentsCatalogModule,
      provider,
      permissionPlugin,
      agentPlatformPolicy,
      permissionsServiceFactory,
      mockServices.database.factory({ knex: options.knex }),
      httpAuthWithActorFactory,
      mockServices.userInfo.mock({
        async getUserInfo(credentials) {
          const userEntityRef = (credentials.principal as unknown as { userEntityRef: string }).userEntityRef;
          return {
            userEntityRef,
            ownershipEntityRefs: [userEntityRef, ...(MEMBERSHIPS[userEntityRef] ?? [])],
          };
        },
      }).factory,
      mockServices.rootConfig.factory({
        data: {
          permission: { enabled: true },
          catalog: {
            processingInterval: { seconds: 1 },
            rules: [{ allow: ['Component', 'System', 'API', 'Resource', 'Location', 'Agent', 'Group', 'User'] }],
          },
          agentPlatform: { permission: { overridesCacheSeconds: 0 } },
          marketplace: { sync: { initialDelaySeconds: 3600 } },
          ...options.config,
        },
      }),
      ...(options.extraFeatures ?? []),
    ],
  });
}

