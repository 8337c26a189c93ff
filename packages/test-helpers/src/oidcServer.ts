/**
 * Runs the test OpenID provider on its own, e.g. as a Playwright web server:
 *
 *   node packages/test-helpers/src/oidcServer.ts --port 7012 \
 *     --client-id agent-platform-portal --client-secret <secret> \
 *     --redirect-uri http://localhost:7007/api/auth/oidc/handler/frame
 *
 * Node runs this TypeScript file directly (type stripping, Node >= 22.18).
 */
import { parseArgs } from 'node:util';
import { startTestOidcProvider } from './oidcProvider.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '7012' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
  },
});
const clientId = values['client-id'];
const clientSecret = values['client-secret'];
const redirectUris = values['redirect-uri'];
if (!clientId || !clientSecret || !redirectUris?.length) {
  console.error(
    'usage: oidcServer.ts [--port N] --client-id ID --client-secret SECRET --redirect-uri URI...',
  );
  process.exit(2);
}

async function main(id: string, secret: string, uris: string[]) {
  const provider = await startTestOidcProvider({
    port: Number(values.port),
    clients: [{ clientId: id, clientSecret: secret, redirectUris: uris }],
  });
  console.log(`Test OpenID provider at ${provider.issuer} for client ${id}`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      provider.stop().finally(() => process.exit(0));
    });
  }
}

main(clientId, clientSecret, redirectUris).catch(error => {
  console.error(error);
  process.exit(1);
});
