import { createExtensionPoint } from '@backstage/backend-plugin-api';
import { SecretReference } from '@internal/plugin-agents-common';

/**
 * Resolves `user` secret references (values brought by the caller and stored
 * by the product control plane) for the local executor. Without one
 * registered, the infra control plane asks the product control plane.
 *
 * @public
 */
export interface UserSecretResolver {
  resolve(
    ref: SecretReference,
    context: { executionId: string; requestedBy: string },
  ): Promise<string | undefined>;
}

/** @public */
export interface InfraControlPlaneSecretsExtensionPoint {
  setUserSecretResolver(resolver: UserSecretResolver): void;
}

/**
 * Lets a backend module plug in how `user` secret references are resolved
 * for the local executor (Kubernetes mounts Secrets by reference instead).
 *
 * @public
 */
export const infraControlPlaneSecretsExtensionPoint =
  createExtensionPoint<InfraControlPlaneSecretsExtensionPoint>({
    id: 'infra-control-plane.secrets',
  });
