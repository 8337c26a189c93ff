import { Config } from '@backstage/config';
import { ExecutionPlan, SecretReference } from '@internal/plugin-agents-common';
import { UserSecretResolver } from '@internal/plugin-infra-control-plane-node';
import { EgressRouteAccessError } from './egress';

export type { UserSecretResolver };

/**
 * Resolves the values of a run's granted secrets for the local executor:
 * `platform` refs from `infraControlPlane.secrets.<ref>`, `user` refs (and
 * platform refs missing there) through the pluggable {@link UserSecretResolver}. For Kubernetes,
 * platform secrets are mounted by reference and only the `user` refs are
 * resolved ({@link SecretResolver.resolveUserSecrets}) into the run's own Secret.
 *
 * @public
 */
export class SecretResolver {
  private userResolver?: UserSecretResolver;

  constructor(private readonly config: Config) {}

  setUserResolver(resolver: UserSecretResolver) {
    this.userResolver = resolver;
  }

  /** Every platform secret value known, for redaction of logs. */
  platformValues(): string[] {
    const secrets = this.config.getOptionalConfig('infraControlPlane.secrets');
    if (!secrets) return [];
    return secrets.keys().map(k => secrets.getString(k));
  }

  /** name -> value of the plan's `user` refs that resolved (for the Kubernetes run Secret). */
  async resolveUserSecrets(plan: ExecutionPlan): Promise<Map<string, string>> {
    return this.resolve(
      plan.secrets.filter(ref => ref.source === 'user'),
      { executionId: plan.executionId, requestedBy: plan.requestedBy },
    );
  }

  /** name -> value of the references that resolved; missing ones are left out. */
  async resolve(
    refs: SecretReference[],
    context: { executionId: string; requestedBy: string },
  ): Promise<Map<string, string>> {
    const values = new Map<string, string>();
    for (const ref of refs) {
      let value: string | undefined;
      if (ref.source === 'platform') {
        value = this.config.getOptionalString(
          `infraControlPlane.secrets.${ref.ref}`,
        );
      }
      // User refs, and platform refs this portal's config does not hold (the
      // product control plane may keep them), go to the resolver.
      if (value === undefined && this.userResolver) {
        value = await this.userResolver.resolve(ref, context);
      }
      if (value !== undefined) {
        values.set(ref.name, value);
      }
    }
    return values;
  }
}

/**
 * The default {@link UserSecretResolver}: asks the product control plane,
 * which stores user secrets encrypted, for the values of a run's secrets
 * (`GET /api/product-control-plane/internal/executions/:id/secrets`, service
 * auth; answered only to this plugin and only while the run is unfinished).
 *
 * @public
 */
export class ProductControlPlaneSecretResolver implements UserSecretResolver {
  constructor(
    private readonly deps: {
      auth: import('@backstage/backend-plugin-api').AuthService;
      discovery: import('@backstage/backend-plugin-api').DiscoveryService;
      fetchFn?: typeof fetch;
    },
  ) {}

  async resolve(
    ref: SecretReference,
    context: { executionId: string },
  ): Promise<string | undefined> {
    const response = await this.internalGet(context.executionId, 'secrets');
    if (!response.ok) {
      return undefined;
    }
    const body = (await response.json()) as {
      secrets?: Array<{ name: string; value: string }>;
    };
    return body.secrets?.find(s => s.name === ref.name)?.value;
  }

  /**
   * The run's requester-bound catalog token (`GET .../catalog-token`, kept
   * by the product control plane while the run is unfinished); throws
   * `EgressRouteAccessError` when the run has none.
   */
  async catalogAccess(
    executionId: string,
  ): Promise<{ token: string; expiresAt: string }> {
    const response = await this.internalGet(executionId, 'catalog-token');
    if (!response.ok) {
      throw new EgressRouteAccessError(
        response.status === 404
          ? `this run has no catalog access: its requester's token is not kept (a run requested by a service, or one that ended)`
          : `the catalog access of this run could not be read (HTTP ${response.status})`,
      );
    }
    return (await response.json()) as { token: string; expiresAt: string };
  }

  private async internalGet(executionId: string, what: string) {
    const { auth, discovery } = this.deps;
    const baseUrl = await discovery.getBaseUrl('product-control-plane');
    const { token } = await auth.getPluginRequestToken({
      onBehalfOf: await auth.getOwnServiceCredentials(),
      targetPluginId: 'product-control-plane',
    });
    return (this.deps.fetchFn ?? fetch)(
      `${baseUrl}/internal/executions/${encodeURIComponent(
        executionId,
      )}/${what}`,
      {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(10_000),
      },
    );
  }
}
