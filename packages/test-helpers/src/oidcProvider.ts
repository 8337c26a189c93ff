/**
 * A real OpenID provider for tests: panva's certified `oidc-provider` on
 * loopback, with the people of `TEST_OIDC_USERS`, a login form (username and
 * password) a browser test can fill in, and consent granted automatically to
 * the registered clients (they stand for the organisation's own portal).
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import type { InteractionDetails } from 'oidc-provider';
import { TEST_OIDC_USERS, type TestOidcUser } from './oidcUsers.ts';

/** A relying party registered at the test provider. @public */
export interface TestOidcClient {
  clientId: string;
  clientSecret: string;
  /** Exact redirect URIs, e.g. `http://localhost:7007/api/auth/oidc/handler/frame`. */
  redirectUris: string[];
}

/** @public */
export interface TestOidcProviderOptions {
  clients: TestOidcClient[];
  /** Defaults to `TEST_OIDC_USERS`. */
  users?: readonly TestOidcUser[];
  /** Loopback port; 0 (the default) picks a free one. */
  port?: number;
}

/** @public */
export interface TestOidcProvider {
  /** `http://127.0.0.1:<port>` */
  issuer: string;
  /** The discovery document, what the portal's `metadataUrl` points at. */
  metadataUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts the provider on 127.0.0.1. The host is deliberately not `localhost`,
 * so its cookies never mix with the portal's.
 *
 * @public
 */
export async function startTestOidcProvider(
  options: TestOidcProviderOptions,
): Promise<TestOidcProvider> {
  const users = options.users ?? TEST_OIDC_USERS;
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const provider = createProvider(issuer, options.clients, users);
  const handleProtocol = provider.callback();

  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const match = url.pathname.match(/^\/interaction\/([\w-]+)(\/login)?$/);
    if (!match) {
      handleProtocol(req, res);
      return;
    }
    const login = req.method === 'POST' && match[2] === '/login';
    handleInteraction(provider, users, req, res, login).catch(error => {
      sendHtml(
        res,
        400,
        page('Sign-in failed', `<p>${escapeHtml(String(error))}</p>`),
      );
    });
  });

  return {
    issuer,
    metadataUrl: `${issuer}/.well-known/openid-configuration`,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close(error => (error ? reject(error) : resolve()));
      }),
  };
}

function createProvider(
  issuer: string,
  clients: TestOidcClient[],
  users: readonly TestOidcUser[],
): Provider {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = {
    ...privateKey.export({ format: 'jwk' }),
    kid: randomUUID(),
    use: 'sig',
    alg: 'RS256',
  };
  return new Provider(issuer, {
    clients: clients.map(client => ({
      client_id: client.clientId,
      client_secret: client.clientSecret,
      redirect_uris: client.redirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    features: { devInteractions: { enabled: false } },
    // Seconds; a test run is far shorter than any of these.
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Grant: 8 * 3600,
      RefreshToken: 8 * 3600,
      Session: 8 * 3600,
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    findAccount(_ctx, sub) {
      const user = users.find(u => u.username === sub);
      if (!user) return undefined;
      return {
        accountId: user.username,
        claims: () => ({
          sub: user.username,
          email: user.email,
          email_verified: true,
          name: user.name,
          preferred_username: user.username,
        }),
      };
    },
    // Like most company identity providers (Keycloak, Entra ID), hand the
    // portal a refresh token without the offline_access scope, so its
    // session survives a page reload.
    issueRefreshToken: (_ctx, client) =>
      client.grantTypeAllowed('refresh_token'),
  });
}

/** GET shows the login form (or grants consent); POST …/login checks it. */
async function handleInteraction(
  provider: Provider,
  users: readonly TestOidcUser[],
  req: http.IncomingMessage,
  res: http.ServerResponse,
  login: boolean,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'consent') {
    const grantId = await grantConsent(provider, details);
    await provider.interactionFinished(
      req,
      res,
      { consent: { grantId } },
      { mergeWithLastSubmission: true },
    );
    return;
  }
  if (!login) {
    sendHtml(res, 200, loginPage(details.uid));
    return;
  }
  const form = new URLSearchParams(await readBody(req));
  const user = users.find(
    u =>
      u.username === form.get('username') &&
      u.password === form.get('password'),
  );
  if (!user) {
    sendHtml(res, 401, loginPage(details.uid, 'Invalid username or password.'));
    return;
  }
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: user.username } },
    { mergeWithLastSubmission: false },
  );
}

async function grantConsent(
  provider: Provider,
  details: InteractionDetails,
): Promise<string> {
  const accountId = details.session?.accountId;
  if (!accountId) throw new Error('Consent without a signed-in account');
  const grant = new provider.Grant({
    accountId,
    clientId: details.params.client_id,
  });
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } =
    details.prompt.details;
  if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(
    missingResourceScopes ?? {},
  )) {
    grant.addResourceScope(resource, scopes.join(' '));
  }
  return grant.save();
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', chunk => {
      body += chunk;
      if (body.length > 10_000) reject(new Error('Form too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function loginPage(uid: string, error?: string): string {
  return page(
    'Sign in',
    `${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
  <label>Username <input name="username" autocomplete="username" required autofocus></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">Sign in</button>
</form>`,
  );
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title} · Test OpenID provider</title>
<style>body{font-family:sans-serif;max-width:22rem;margin:4rem auto}label,button{display:block;margin:.8rem 0}input{width:100%}</style>
</head><body><h1>${title}</h1>${body}</body></html>`;
}

function sendHtml(res: http.ServerResponse, status: number, html: string) {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(html);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);
}
