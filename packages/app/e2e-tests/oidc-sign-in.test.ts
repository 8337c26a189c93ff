import { expect, Page, test } from '@playwright/test';
import { signInAs, signInThroughPopup } from './signIn';

/**
 * Sign-in through OpenID Connect as two people at once (a browser context
 * each): the test OpenID provider's login form, the backend's oidc provider
 * resolving each by email to their catalog user, and what that identity
 * decides (ada's team, ml-team, owns the private LLM Assistant; grace's
 * data-team may not see it).
 */
test.setTimeout(300_000);

/** Settings shows the profile from the provider and the catalog user it resolved to. */
async function expectIdentity(
  page: Page,
  who: { name: string; email: string; user: string; group: string },
) {
  await page.goto('/settings');
  await expect(page.getByText(who.name).first()).toBeVisible();
  await expect(page.getByText(who.email)).toBeVisible();
  // Backstage Identity: "User Entity" links to user:default/<name>.
  await expect(
    page
      .getByText('User Entity:')
      .locator('..')
      .getByRole('link', { name: who.name }),
  ).toHaveAttribute('href', `/catalog/default/user/${who.user}`);
  // The sidebar's "My Group" is the user's team in the catalog.
  await expect(page.getByRole('link', { name: 'My Group' })).toHaveAttribute(
    'href',
    `/catalog/default/Group/${who.group}`,
  );
}

async function catalogAgents(page: Page) {
  await page.goto('/catalog');
  await page.getByRole('menuitem', { name: /^All/ }).click();
  await expect(
    page.getByRole('link', { name: 'Text Summarizer' }),
  ).toBeVisible();
}

test('two people sign in through the OpenID provider, each as their own catalog user, and see only what they may', async ({
  browser,
}) => {
  const ada = await signInAs(browser, 'ada');
  const grace = await signInAs(browser, 'grace');

  await expectIdentity(ada, {
    name: 'Ada Lovelace',
    email: 'ada@example.com',
    user: 'ada',
    group: 'ml-team',
  });
  await ada.screenshot({
    path: 'node_modules/.cache/e2e-oidc-settings-ada.png',
    fullPage: true,
  });
  await expectIdentity(grace, {
    name: 'Grace Hopper',
    email: 'grace@example.com',
    user: 'grace',
    group: 'data-team',
  });
  await grace.screenshot({
    path: 'node_modules/.cache/e2e-oidc-settings-grace.png',
    fullPage: true,
  });

  // A reload keeps the session: the backend refreshes it with the provider's
  // refresh token (its cookie), no second login.
  await ada.reload();
  await expect(ada.getByText('ada@example.com')).toBeVisible();
  await expect(ada.getByRole('button', { name: 'Sign In' })).toHaveCount(0);

  // ada (ml-team) owns the private LLM Assistant; grace (data-team) does not see it.
  await catalogAgents(ada);
  await expect(ada.getByRole('link', { name: 'LLM Assistant' })).toBeVisible();
  await catalogAgents(grace);
  await expect(
    grace.getByRole('link', { name: 'Data Profiler' }),
  ).toBeVisible();
  await expect(grace.getByRole('link', { name: 'LLM Assistant' })).toHaveCount(
    0,
  );
  await grace.screenshot({
    path: 'node_modules/.cache/e2e-oidc-catalog-grace.png',
    fullPage: true,
  });

  // Signing out ends the portal session: the sign-in page again.
  await grace.goto('/settings');
  await grace.getByTestId('user-settings-menu').click();
  await grace.getByTestId('sign-out').click();
  await expect(grace.getByRole('button', { name: 'Sign In' })).toBeVisible();
  // ada is still signed in, in her own context.
  await ada.goto('/settings');
  await expect(ada.getByText('ada@example.com')).toBeVisible();
});

test('the provider refuses a wrong password and the portal stays on its sign-in page', async ({
  browser,
}) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto('/');
  const popupOpened = page.waitForEvent('popup', { timeout: 15_000 });
  await page.getByRole('button', { name: 'Sign In' }).click();
  const popup = await popupOpened;
  await popup.getByLabel('Username').fill('ada');
  await popup.getByLabel('Password').fill('not-her-password');
  await popup.getByRole('button', { name: 'Sign in' }).click();
  await expect(popup.getByRole('alert')).toHaveText(
    'Invalid username or password.',
  );
  await popup.screenshot({
    path: 'node_modules/.cache/e2e-oidc-wrong-password.png',
  });
  await popup.close();
  await expect(page.getByText('Agent Platform Catalog')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Sign In' })).toBeVisible();

  // The right one signs her in.
  await signInThroughPopup(page, 'ada');
  await expect(page.getByText('Agent Platform Catalog')).toBeVisible();
});
