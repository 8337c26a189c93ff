import { Browser, expect, Page } from '@playwright/test';
// Credentials of the test OpenID provider that playwright.config.ts starts.
// eslint-disable-next-line @backstage/no-relative-monorepo-imports
import { testOidcUser } from '../../test-helpers/src/oidcUsers';

/**
 * Signs in as a person of the test OpenID provider (ada, grace), in a browser
 * context of their own, through the real flow: the sign-in page's "Single
 * sign-on" button opens the backend's /api/auth/oidc/start in a popup, which
 * redirects to the provider's login form; after it the provider redirects to
 * the backend's callback, which resolves the person by email to a catalog
 * user and hands the portal their Backstage identity.
 */
export async function signInAs(
  browser: Browser,
  username: string,
): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  // When a sign-in or session refresh is refused, say why in the test output
  // (before the first sign-in the refresh answers 401: no session yet).
  page.on('requestfailed', request => {
    if (request.url().includes('/api/auth/')) {
      // eslint-disable-next-line no-console -- why a session was lost, in the e2e output
      console.log(
        `[${username}] failed ${request.url()} ${request.failure()?.errorText}`,
      );
    }
  });
  page.on('response', async response => {
    if (response.url().includes('/api/auth/') && response.status() >= 400) {
      const body = await response.text().catch(() => '');
      // eslint-disable-next-line no-console -- why a session was lost, in the e2e output
      console.log(
        `[${username}] ${response.status()} ${response.url()} ${body.slice(
          0,
          300,
        )}`,
      );
    }
  });
  // Right after start-up the catalog may not have ingested the org yet (the
  // resolver finds no user with that email): try again until it has.
  await expect(async () => {
    await page.goto('/');
    await signInThroughPopup(page, username);
    await expect(page.getByText('Agent Platform Catalog')).toBeVisible({
      timeout: 10_000,
    });
  }).toPass({ timeout: 150_000 });
  return page;
}

/** Presses "Sign In" on the sign-in page and logs in at the provider's form. */
export async function signInThroughPopup(page: Page, username: string) {
  const user = testOidcUser(username);
  const popupOpened = page.waitForEvent('popup', { timeout: 15_000 });
  await page
    .getByRole('button', { name: 'Sign In' })
    .click({ timeout: 15_000 });
  const popup = await popupOpened;
  const closed = popup.waitForEvent('close', { timeout: 30_000 });
  const usernameField = popup.getByLabel('Username');
  // A second attempt in the same context finds the provider's session and
  // comes straight back without the form.
  const form = await Promise.race([
    usernameField
      .waitFor({ timeout: 30_000 })
      .then(() => true)
      .catch(() => false),
    closed.then(() => false),
  ]);
  if (form) {
    await usernameField.fill(user.username);
    await popup.getByLabel('Password').fill(user.password);
    await popup.getByRole('button', { name: 'Sign in' }).click();
    await closed;
  }
}
