/*
 * Re-encrypts every user secret with the current key.
 *
 *   yarn workspace @internal/plugin-product-control-plane-backend \
 *     rotate-user-secret-key [--config <app-config.yaml> ...]
 *
 * Reads config like the backend (default: app-config.yaml and
 * app-config.local.yaml at the repository root) and the
 * AGENT_PLATFORM_USER_SECRET_KEY environment variable: list the new key
 * first and keep the old ones after it until this has run. Exits 1 when a
 * row cannot be decrypted with any configured key (their ids are printed;
 * their owners must store them again).
 */
import path from 'node:path';
import { DatabaseManager } from '@backstage/backend-defaults/database';
import { WinstonLogger } from '@backstage/backend-defaults/rootLogger';
import { ConfigSources } from '@backstage/config-loader';
import { rotateUserSecretKey } from '../src/services/rotateUserSecretKey';

async function main() {
  const config = await ConfigSources.toConfig(
    ConfigSources.default({
      argv: process.argv.slice(2),
      rootDir: path.resolve(__dirname, '../../..'),
    }),
  );
  const logger = WinstonLogger.create({
    meta: { service: 'rotate-user-secret-key' },
    level: 'info',
    format: WinstonLogger.colorFormat(),
  });
  const shutdown: Array<() => void | Promise<void>> = [];
  const database = DatabaseManager.fromConfig(config).forPlugin(
    'product-control-plane',
    {
      logger,
      lifecycle: {
        addStartupHook: () => {},
        addShutdownHook: hook => {
          shutdown.push(typeof hook === 'function' ? hook : hook.fn);
        },
      },
    },
  );
  try {
    const summary = await rotateUserSecretKey({ config, database, logger });
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    process.exitCode = summary.unreadable.length ? 1 : 0;
  } finally {
    for (const hook of shutdown) await hook();
    await (await database.getClient()).destroy();
    config.close();
  }
}

main().catch(error => {
  // The message only: never a secret value or key (none is in it).
  process.stderr.write(`rotate-user-secret-key: ${error.message}\n`);
  process.exit(1);
});
