/**
 * Shared helpers for integration tests.
 *
 * @packageDocumentation
 */
export { createTestDatabases, POSTGRES_TEST_DATABASE_ID } from './databases';
