import { expect, test } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import { signInAs } from './signIn';

/**
 * The "New agent" template through the portal: the form, publish:local into
 * the local agents folder (app-config.yaml), the new Agent in the catalog,
 * and a run of it from its entity page (marketplace free plan, product and
 * infra control planes, the agent runtime running the generated code).
 */
const name = `e2e-agent-${Date.now().toString(36)}`;
const publishedDir = path.resolve(__dirname, '../../../.data/agents', name);

test.afterAll(() => {
  fs.rmSync(publishedDir, { recursive: true, force: true });
});

test.setTimeout(480_000);

test('a user creates an agent with the "New agent" template, finds it in the catalog and runs it', async ({
  browser,
}) => {
  const page = await signInAs(browser, 'ada');

  // The template is read from the catalog shortly after start-up.
  await expect(async () => {
    await page.getByRole('link', { name: 'Catalog' }).first().click();
    await page.getByRole('link', { name: 'Create...' }).click();
    await expect(page.getByText('New agent', { exact: true })).toBeVisible({
      timeout: 15_000,
    });
  }).toPass({ timeout: 180_000 });
  // The innermost element holding both the title and a Choose button is the card.
  const card = page
    .locator('div')
    .filter({ has: page.getByText('New agent', { exact: true }) })
    .filter({ has: page.getByTestId('template-card-actions--create') })
    .last();
  await card.getByTestId('template-card-actions--create').click();
  await expect(page.getByText('About the agent').first()).toBeVisible();

  // Page 1: about the agent.
  await page.getByLabel('Name', { exact: false }).first().fill(name);
  await page
    .getByLabel('Description', { exact: false })
    .first()
    .fill('Created by the end-to-end test of the New agent template.');
  const owner = page.getByLabel('Owner', { exact: false }).first();
  await owner.click();
  await owner.fill('platform');
  await page
    .getByRole('option', { name: /platform/i })
    .first()
    .click();
  await page.getByRole('button', { name: 'Next' }).click();

  // Page 2: marketplace listing (defaults: internal, free).
  await expect(page.getByText('Pricing plan').first()).toBeVisible();
  await page.getByRole('button', { name: 'Next' }).click();

  // Page 3: input fields (default: one required "text" field) and tools (none).
  await expect(
    page.getByRole('heading', { name: 'Input fields', exact: true }),
  ).toBeVisible();
  await expect(page.getByRole('checkbox', { name: 'http' })).not.toBeChecked();
  await page.getByRole('button', { name: 'Review' }).click();
  await page.screenshot({
    path: 'node_modules/.cache/e2e-new-agent-review.png',
    fullPage: true,
  });
  await page.getByRole('button', { name: 'Create' }).click();

  // The task publishes and registers; its output links to the new entity.
  const open = page
    .getByRole('button', { name: 'Open in catalog' })
    .or(page.getByRole('link', { name: 'Open in catalog' }));
  await expect(open.first()).toBeVisible({ timeout: 60_000 });
  expect(fs.existsSync(path.join(publishedDir, 'catalog-info.yaml'))).toBe(
    true,
  );
  expect(fs.existsSync(path.join(publishedDir, 'index.js'))).toBe(true);
  await page.screenshot({
    path: 'node_modules/.cache/e2e-new-agent-done.png',
    fullPage: true,
  });

  // The catalog processes the refreshed location within seconds. The page's
  // heading shows the name from the URL even before the entity exists
  // ("Entity not found"), so wait for the entity's own content, reloading.
  await open.first().click();
  await expect(async () => {
    await page.reload();
    await expect(
      page.getByText(`registry.example.com/agents/${name}:0.1.0`),
    ).toBeVisible({ timeout: 5000 });
  }).toPass({ timeout: 90_000 });
  await expect(
    page.getByRole('heading', { name: new RegExp(name), level: 1 }),
  ).toBeVisible();
  await page.screenshot({
    path: 'node_modules/.cache/e2e-new-agent-entity.png',
    fullPage: true,
  });

  // Acquire its free plan in the marketplace (the listing index syncs from the catalog).
  await expect(async () => {
    await page.goto('/marketplace');
    await page.getByLabel('Search agents').fill(name);
    await expect(page.getByRole('link', { name })).toBeVisible({
      timeout: 3000,
    });
  }).toPass({ timeout: 90_000 });
  await page.getByRole('link', { name }).click();
  await page.getByRole('button', { name: 'Acquire Free' }).click();
  await expect(page.getByText('Your plan')).toBeVisible();

  // Run it from its entity page: the local executor runs the generated code through the runtime.
  await page.goto(`/catalog/default/agent/${name}/runs`);
  await expect(page.getByRole('button', { name: 'Start run' })).toBeVisible();
  await page.getByLabel(/^Text/).fill('hello from the portal');
  await page.getByRole('button', { name: 'Start run' }).click();
  await expect(page.getByTestId('execution-state')).toHaveAttribute(
    'data-state',
    'succeeded',
    { timeout: 60_000 },
  );
  await expect(page.getByTestId('execution-result')).toContainText(
    `${name} received 1 field(s)`,
  );
  await expect(page.getByTestId('execution-result')).toContainText(
    'hello from the portal',
  );
  await page.screenshot({
    path: 'node_modules/.cache/e2e-new-agent-run.png',
    fullPage: true,
  });
});
