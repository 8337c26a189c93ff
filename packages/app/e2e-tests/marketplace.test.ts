import { expect, Page, test } from '@playwright/test';
import { signInAs } from './signIn';

async function searchMarketplace(page: Page, text: string) {
  await page.getByRole('link', { name: 'Marketplace' }).click();
  await expect(page.getByRole('heading', { name: 'Marketplace' })).toBeVisible();
  await page.getByLabel('Search agents').fill(text);
}

test.setTimeout(300_000);

test('a user finds an agent, acquires its free plan and sees it under My agents; another user does not see a private agent', async ({
  browser,
}) => {
  const ada = await signInAs(browser, 'ada');
  // The listing index is synced from the catalog shortly after start-up.
  await expect(async () => {
    await ada.goto('/marketplace');
    await ada.getByLabel('Search agents').fill('summar');
    await expect(ada.getByRole('link', { name: 'Text Summarizer' })).toBeVisible({ timeout: 3000 });
  }).toPass({ timeout: 60_000 });
  await expect(ada.getByRole('link', { name: 'Slow Counter' })).toHaveCount(0);

  await ada.getByRole('link', { name: 'Text Summarizer' }).click();
  await expect(ada.getByText('agent:default/summarizer')).toBeVisible();
  await expect(ada.getByText('$0.02 per run')).toBeVisible();
  await expect(ada.getByText('How many sentences to keep', { exact: false })).toBeVisible();
  await ada.getByRole('button', { name: 'Acquire Free' }).click();
  await expect(ada.getByText('Your plan')).toBeVisible();
  // Run leads to the entity page's Runs tab (owned by the product control plane).
  await expect(ada.locator('a', { hasText: /^Run$/ })).toHaveAttribute('href', '/catalog/default/agent/summarizer/runs');

  // A team plan for ada's group, next to her own plan.
  await ada.getByRole('button', { name: /Acquire for/ }).click();
  await ada.getByRole('option', { name: 'ml-team' }).click();
  await ada.getByRole('button', { name: 'Acquire Pro' }).click();
  await expect(ada.getByText('Held by: me (free), ml-team (pro)')).toBeVisible();

  // As the owner (ml-team), ada grants the free plan to data-team until a date.
  await ada.getByRole('tab', { name: 'Publishing' }).click();
  await ada.getByRole('button', { name: 'Grant Text Summarizer' }).click();
  await ada.getByLabel('User or group').fill('group:data-team');
  await ada.getByLabel('Expires (optional)').fill('2099-12-31');
  await ada.getByRole('button', { name: 'Grant', exact: true }).click();
  await expect(ada.getByText('data-team (free) until 2099-12-31')).toBeVisible();
  await ada.screenshot({ path: 'node_modules/.cache/e2e-marketplace-publishing.png', fullPage: true });

  await ada.getByRole('tab', { name: 'My agents' }).click();
  // Hers and her team's (ml-team) entitlement.
  await expect(ada.getByRole('link', { name: 'Text Summarizer' })).toHaveCount(2);
  await expect(ada.getByText('0 / 20')).toBeVisible();
  await ada.screenshot({ path: 'node_modules/.cache/e2e-marketplace-my-agents.png', fullPage: true });

  // ada (ml-team) owns the private LLM Assistant and sees it.
  await searchMarketplace(ada, 'llm');
  await expect(ada.getByRole('link', { name: 'LLM Assistant' })).toBeVisible();

  // grace (data-team) is neither owner nor in allowedGroups.
  const grace = await signInAs(browser, 'grace');
  await searchMarketplace(grace, 'llm');
  await expect(grace.getByText('No agents match.')).toBeVisible();
  await expect(grace.getByRole('link', { name: 'LLM Assistant' })).toHaveCount(0);
  await grace.screenshot({ path: 'node_modules/.cache/e2e-marketplace-grace.png', fullPage: true });
  // ...but her team holds the plan ada granted.
  await grace.goto('/marketplace/agents/default/summarizer');
  await expect(grace.getByText('Held by: data-team (free)')).toBeVisible();
  // ...nor in the catalog.
  await grace.goto('/catalog');
  await expect(async () => {
    await grace.getByRole('menuitem', { name: /^All/ }).click();
    await expect(grace.getByRole('link', { name: 'Text Summarizer' })).toBeVisible({ timeout: 3000 });
  }).toPass({ timeout: 30_000 });
  await expect(grace.getByRole('link', { name: 'Data Profiler' })).toBeVisible();
  await expect(grace.getByRole('link', { name: 'LLM Assistant' })).toHaveCount(0);
});
