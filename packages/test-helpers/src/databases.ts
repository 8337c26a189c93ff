import { TestDatabases } from '@backstage/backend-test-utils';

/** The PostgreSQL version the suite runs against (Debian 12 ships 15). */
export const POSTGRES_TEST_DATABASE_ID = 'POSTGRES_15' as const;
const POSTGRES_ENV = 'BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING';

/**
 * Creates the `TestDatabases` every database test runs against: SQLite (the
 * embedded default) and PostgreSQL (production), never Docker.
 *
 * PostgreSQL comes from `BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING`
 * (scripts/test.sh starts a local server and sets it). Outside CI a missing
 * server narrows the run to SQLite; in CI it is an error, so the PostgreSQL
 * half can never be skipped silently.
 */
export function createTestDatabases(): TestDatabases {
  if (process.env.CI && !process.env[POSTGRES_ENV]) {
    throw new Error(
      `${POSTGRES_ENV} is not set: CI must run the database tests on PostgreSQL too (see scripts/postgres.sh)`,
    );
  }
  return TestDatabases.create({
    ids: ['SQLITE_3', POSTGRES_TEST_DATABASE_ID],
    disableDocker: true,
  });
}
