import { defineConfig } from '@playwright/test';

/**
 * End-to-end tests in Debian's Chromium (never a downloaded browser). The
 * portal is started with app-config.e2e.yaml on top of the defaults, so the
 * run uses its own throw-away SQLite data.
 */
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The test OpenID provider people sign in at. Port, client id, secret and
 * redirect URI are those of auth.providers.oidc.e2e in app-config.e2e.yaml.
 */
const oidcProvider = [
  JSON.stringify(process.execPath),
  '--disable-warning=MODULE_TYPELESS_PACKAGE_JSON',
  'packages/test-helpers/src/oidcServer.ts',
  '--port 7012',
  '--client-id agent-platform-portal',
  '--client-secret e2e-only-client-secret',
  '--redirect-uri http://localhost:7007/api/auth/oidc/handler/frame',
].join(' ');

export default defineConfig({
  testDir: 'packages/app/e2e-tests',
  timeout: 90_000,
  expect: { timeout: 20_000 },
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [
    ['list'],
    ['json', { outputFile: 'node_modules/.cache/e2e-results.json' }],
  ],
  webServer: [
    // First: the backend reads the provider's discovery document at start-up.
    {
      command: oidcProvider,
      url: 'http://127.0.0.1:7012/.well-known/openid-configuration',
      reuseExistingServer: !process.env.CI,
      timeout: 30_000,
    },
    {
      command:
        'yarn workspace backend start --config ../../app-config.yaml --config ../../app-config.e2e.yaml',
      url: 'http://localhost:7007/.backstage/health/v1/readiness',
      reuseExistingServer: !process.env.CI,
      timeout: 180_000,
      stdout: 'ignore',
      stderr: 'pipe',
    },
    {
      // The e2e config here too: its auth.environment picks the sign-in page.
      command:
        'yarn workspace app start --config ../../app-config.yaml --config ../../app-config.e2e.yaml',
      url: 'http://localhost:3000',
      reuseExistingServer: !process.env.CI,
      timeout: 240_000,
    },
  ],
  use: {
    baseURL: process.env.PLAYWRIGHT_URL ?? 'http://localhost:3000',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: chromium,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  outputDir: 'node_modules/.cache/e2e-test-results',
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
});
