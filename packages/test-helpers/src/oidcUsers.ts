/**
 * The people who can sign in at the test OpenID provider. Their emails are
 * those of the catalog users in catalog/org/org.yaml, so the portal's
 * `emailMatchingUserEntityProfileEmail` resolver signs them in as
 * `user:default/ada` and `user:default/grace`.
 *
 * @public
 */
export interface TestOidcUser {
  /** What the person types into the login form's Username field. */
  username: string;
  password: string;
  email: string;
  /** The OpenID `name` claim. */
  name: string;
}

/** Two people of different teams (ml-team and data-team). @public */
export const TEST_OIDC_USERS: readonly TestOidcUser[] = [
  {
    username: 'ada',
    password: 'ada-test-password',
    email: 'ada@example.com',
    name: 'Ada Lovelace',
  },
  {
    username: 'grace',
    password: 'grace-test-password',
    email: 'grace@example.com',
    name: 'Grace Hopper',
  },
];

/** The test user with this username; throws for an unknown one. @public */
export function testOidcUser(username: string): TestOidcUser {
  const user = TEST_OIDC_USERS.find(u => u.username === username);
  if (!user) {
    throw new Error(`No test OpenID user named '${username}'`);
  }
  return user;
}
