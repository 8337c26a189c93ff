/**
 * Shared helpers for integration tests.
 *
 * @packageDocumentation
 */
export { createTestDatabases, POSTGRES_TEST_DATABASE_ID } from './databases';
export {
  KWOK_POD_ANNOTATIONS,
  kwokPodAnnotations,
  startTestCluster,
  TEST_CLUSTER_START_TIMEOUT_MS,
} from './kubernetes';
export type { FakePodLogs, KwokPodBehaviour, TestCluster } from './kubernetes';
export { startTestOidcProvider } from './oidcProvider';
export type {
  TestOidcClient,
  TestOidcProvider,
  TestOidcProviderOptions,
} from './oidcProvider';
export { TEST_OIDC_USERS, testOidcUser } from './oidcUsers';
export type { TestOidcUser } from './oidcUsers';
export * from './fuzz';
