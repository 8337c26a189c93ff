/*
 * The Agent Platform backend: Backstage core plugins plus the agent platform
 * layers (see docs/architecture.md).
 */
import { createBackend } from '@backstage/backend-defaults';
import { catalogModuleAgentVisibility } from '@internal/plugin-marketplace-backend';

const backend = createBackend();

backend.add(import('@backstage/plugin-app-backend'));
backend.add(import('@backstage/plugin-proxy-backend'));

// Auth: guest sign-in for the embedded, single-machine setup; OpenID Connect
// (auth.providers.oidc, users resolved by email to catalog users) for
// production and the e2e tests. See docs/sign-in.md.
backend.add(import('@backstage/plugin-auth-backend'));
backend.add(import('@backstage/plugin-auth-backend-module-oidc-provider'));
// The guest provider of the embedded default (its optional development-only
// header sign-in, auth.providers.guest.devUserHeader, is no longer used: the
// e2e tests sign in through OIDC).
backend.add(import('@internal/plugin-auth-backend-module-dev-user-provider'));

// Catalog, with the Agent kind and a view of entities that failed processing.
backend.add(import('@backstage/plugin-catalog-backend'));
backend.add(
  import('@backstage/plugin-catalog-backend-module-scaffolder-entity-model'),
);
backend.add(import('@backstage/plugin-catalog-backend-module-logs'));
backend.add(import('@backstage/plugin-catalog-backend-module-unprocessed'));
backend.add(import('@internal/plugin-catalog-backend-module-agents'));
// Hides private Agents from non-members (rule used by the permission policy).
backend.add(catalogModuleAgentVisibility);

// Scaffolder (software templates, e.g. "New agent").
backend.add(import('@backstage/plugin-scaffolder-backend'));
backend.add(
  import('@backstage/plugin-scaffolder-backend-module-notifications'),
);
// agent:run and kubernetes:job:create.
backend.add(
  import('@internal/plugin-scaffolder-backend-module-agent-platform'),
);
// publish:local: "New agent" publishes into a local folder the catalog reads.
backend.add(
  import('@internal/plugin-scaffolder-backend-module-local-publish'),
);

// Permissions.
backend.add(import('@backstage/plugin-permission-backend'));
backend.add(
  import('@internal/plugin-permission-backend-module-agent-platform'),
);

// Marketplace: discovery, visibility, plans, entitlements, usage.
backend.add(import('@internal/plugin-marketplace-backend'));

// Infra control plane: runs execution plans as local processes (default) or
// hardened Kubernetes Jobs, keeps their logs and results.
backend.add(import('@internal/plugin-infra-control-plane-backend'));

// Product control plane: validated, policy-checked executions and their record.
backend.add(import('@internal/plugin-product-control-plane-backend'));

// Search: Postgres engine when on PostgreSQL, in-memory otherwise.
backend.add(import('@backstage/plugin-search-backend'));
backend.add(import('@backstage/plugin-search-backend-module-pg'));
backend.add(import('@backstage/plugin-search-backend-module-catalog'));

backend.add(import('@backstage/plugin-user-settings-backend'));
backend.add(import('@backstage/plugin-notifications-backend'));
backend.add(import('@backstage/plugin-signals-backend'));
backend.add(import('@backstage/plugin-mcp-actions-backend'));

backend.start();
