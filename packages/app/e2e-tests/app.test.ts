import { expect, test } from '@playwright/test';
import { signInAs } from './signIn';

test('the catalog lists agents and an agent page shows its details', async ({
  browser,
}) => {
  const page = await signInAs(browser, 'ada');

  // The catalog opens on the Agent kind; show all of them, not only mine.
  await page.getByRole('menuitem', { name: /^All/ }).click();
  await expect(page.getByRole('link', { name: 'Text Summarizer' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Slow Counter' })).toBeVisible();

  // Filtering by kind: switch to Group and back to Agent.
  await page.getByRole('button', { name: 'Agent' }).click();
  await page.getByRole('option', { name: 'Group' }).click();
  await expect(page.getByRole('link', { name: 'ML Team' }).first()).toBeVisible();
  await expect(page.getByRole('link', { name: 'Text Summarizer' })).toHaveCount(0);
  await page.getByRole('button', { name: 'Group' }).click();
  await page.getByRole('option', { name: 'Agent' }).click();
  await expect(page.getByRole('link', { name: 'Always Fails' })).toBeVisible();

  await page.getByRole('link', { name: 'Text Summarizer' }).click();
  await expect(page.getByRole('heading', { name: /Text Summarizer/, level: 1 })).toBeVisible();
  await expect(page.getByText('registry.example.com/agents/summarizer:1.4.0')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Plans' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Input' })).toBeVisible();
  await expect(page.getByText('$0.02 per run')).toBeVisible();
  await expect(page.getByText('How many sentences to keep', { exact: false })).toBeVisible();
  await page.screenshot({ path: 'node_modules/.cache/e2e-agent-page.png', fullPage: true });
});
