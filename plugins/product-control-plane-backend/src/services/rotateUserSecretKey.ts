import { DatabaseService, LoggerService } from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { ExecutionStore } from '../database/ExecutionStore';
import { UserSecretStore } from '../database/UserSecretStore';
import { SecretCipher } from './SecretCipher';
import { RotationSummary, UserSecretService } from './UserSecretService';

/**
 * What `yarn workspace @internal/plugin-product-control-plane-backend
 * rotate-user-secret-key` does: migrates the plugin database (so rows of the
 * first version are upgraded), then re-encrypts every user secret not made
 * with the current key.
 */
export async function rotateUserSecretKey(options: {
  config: Config;
  database: DatabaseService;
  logger: LoggerService;
  env?: NodeJS.ProcessEnv;
}): Promise<RotationSummary> {
  const cipher = SecretCipher.fromConfig(options.config, options.env);
  const store = await ExecutionStore.create(options.database, {
    migrationParams: UserSecretService.migrationParams(cipher),
  });
  const secrets = new UserSecretService(
    new UserSecretStore(store.knex),
    cipher,
    options.logger,
  );
  return secrets.rotate();
}
