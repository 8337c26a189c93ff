import { expect, Page, test } from '@playwright/test';
import { signInAs } from './signIn';

/**
 * Runs agents from their entity page's Runs tab against the full backend:
 * marketplace entitlement, product control plane (policy, record, outbox)
 * and the infra control plane's local executor running the example code.
 */
/** Acquires the agent's free plan in the marketplace (once per user). */
async function acquireFree(page: Page, search: string, title: string) {
  await expect(async () => {
    await page.goto('/marketplace');
    await page.getByLabel('Search agents').fill(search);
    await expect(page.getByRole('link', { name: title })).toBeVisible({ timeout: 3000 });
  }).toPass({ timeout: 60_000 });
  await page.getByRole('link', { name: title }).click();
  const acquire = page.getByRole('button', { name: 'Acquire Free' });
  await expect(acquire.or(page.getByText('Your plan'))).toBeVisible();
  if (await acquire.isVisible()) await acquire.click();
  await expect(page.getByText('Your plan')).toBeVisible();
}

async function openRuns(page: Page, name: string) {
  await page.goto(`/catalog/default/agent/${name}/runs`);
  await expect(page.getByRole('button', { name: 'Start run' })).toBeVisible();
}

test('runs the summarizer from its entity page and shows succeeded with logs and result', async ({ browser }) => {
  test.setTimeout(180_000);
  const ada = await signInAs(browser, 'ada');
  await acquireFree(ada, 'summar', 'Text Summarizer');
  await openRuns(ada, 'summarizer');

  await ada.getByLabel(/^Text/).fill(
    'Agents run on the platform. The platform records every run. Every run has logs and a result. Cats are nice.',
  );
  await ada.getByLabel(/^Sentences/).fill('2');
  await ada.getByRole('button', { name: 'Start run' }).click();

  // The execution page: live state, logs, result.
  await expect(ada).toHaveURL(/\/catalog\/default\/agent\/summarizer\/runs\/[0-9a-f-]{36}$/);
  await expect(ada.getByTestId('execution-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });
  await expect(ada.getByTestId('execution-result')).toContainText('"sentences": 2');
  await expect(ada.getByTestId('execution-result')).toContainText('summary');
  await expect(ada.getByTestId('execution-logs')).not.toHaveAttribute('data-lines', '0');
  await expect(ada.getByRole('button', { name: 'Re-run' })).toBeVisible();
  await expect(ada.getByRole('button', { name: 'Cancel' })).toHaveCount(0);
  await ada.screenshot({ path: 'node_modules/.cache/e2e-runs-succeeded.png', fullPage: true });
  await ada.getByTestId('execution-logs').scrollIntoViewIfNeeded();
  await ada.getByTestId('execution-logs').screenshot({ path: 'node_modules/.cache/e2e-runs-logs.png' });

  // The history lists it with its status chip.
  await ada.getByRole('link', { name: '← All runs' }).click();
  await expect(ada.getByRole('button', { name: 'Start run' })).toBeVisible();
  await expect(ada.locator('[data-testid="execution-state"][data-state="succeeded"]').first()).toBeVisible();
  const history = ada.getByRole('table').filter({ hasText: 'Run history' }).or(ada.locator('table').last());
  await history.first().scrollIntoViewIfNeeded();
  await ada.screenshot({ path: 'node_modules/.cache/e2e-runs-history.png' });
});

test('cancels a long-running slow-counter run', async ({ browser }) => {
  test.setTimeout(180_000);
  const ada = await signInAs(browser, 'ada');
  await acquireFree(ada, 'slow', 'Slow Counter');
  await openRuns(ada, 'slow-counter');

  await ada.getByLabel(/^Steps/).fill('600');
  await ada.getByLabel(/^Interval/).fill('500');
  await ada.getByRole('button', { name: 'Start run' }).click();
  await expect(ada).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);
  await expect(ada.getByTestId('execution-state')).toHaveAttribute('data-state', 'running', { timeout: 60_000 });
  // It logs while it counts.
  await expect(ada.getByTestId('execution-logs')).not.toHaveAttribute('data-lines', '0', { timeout: 30_000 });

  await ada.getByRole('button', { name: 'Cancel' }).click();
  await expect(ada.getByTestId('execution-state')).toHaveAttribute('data-state', 'cancelled', { timeout: 60_000 });
  await expect(ada.getByRole('button', { name: 'Re-run' })).toBeVisible();
  await ada.screenshot({ path: 'node_modules/.cache/e2e-runs-cancelled.png', fullPage: true });
});
