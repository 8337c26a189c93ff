import { startTestOidcProvider, TestOidcProvider } from './oidcProvider';
import { testOidcUser } from './oidcUsers';

const client = {
  clientId: 'portal',
  clientSecret: 'portal-secret',
  redirectUris: ['http://localhost:7007/api/auth/oidc/handler/frame'],
};
const basic = `Basic ${Buffer.from('portal:portal-secret').toString('base64')}`;

/** A browser's cookie jar, just enough to follow the provider's redirects. */
function browser(issuer: string) {
  const cookies = new Map<string, string>();
  return async (url: string, init: RequestInit = {}) => {
    const response = await fetch(new URL(url, issuer), {
      ...init,
      redirect: 'manual',
      headers: {
        ...(init.headers as Record<string, string>),
        cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      },
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const at = pair.indexOf('=');
      cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return response;
  };
}

async function login(
  provider: TestOidcProvider,
  username: string,
  password: string,
) {
  const go = browser(provider.issuer);
  const authorize = new URL('/auth', provider.issuer);
  authorize.search = new URLSearchParams({
    client_id: client.clientId,
    response_type: 'code',
    scope: 'openid profile email',
    redirect_uri: client.redirectUris[0],
    state: 'state-1',
    nonce: 'nonce-1',
  }).toString();
  let response = await go(authorize.href);
  response = await go(response.headers.get('location')!);
  const form = await response.text();
  const action = form.match(/action="([^"]+)"/)![1];
  response = await go(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password }).toString(),
  });
  if (response.status !== 303)
    return { status: response.status, body: await response.text() };
  // Back to the authorization endpoint, consent (granted automatically), the client.
  let location = response.headers.get('location')!;
  while (!location.startsWith(client.redirectUris[0])) {
    response = await go(location);
    location = response.headers.get('location')!;
  }
  return { status: 303, redirect: new URL(location) };
}

async function token(
  provider: TestOidcProvider,
  params: Record<string, string>,
) {
  const response = await fetch(`${provider.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: basic,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(params).toString(),
  });
  return response.json();
}

describe('startTestOidcProvider', () => {
  let provider: TestOidcProvider;
  beforeAll(async () => {
    provider = await startTestOidcProvider({ clients: [client] });
  });
  afterAll(() => provider.stop());

  it('publishes its discovery document on loopback', async () => {
    const metadata = await fetch(provider.metadataUrl).then(r => r.json());
    expect(provider.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(metadata.issuer).toBe(provider.issuer);
    expect(metadata.userinfo_endpoint).toBe(`${provider.issuer}/me`);
  });

  it('signs a user in through its login form and hands the client a code, tokens, a verified email and a refresh token', async () => {
    const grace = testOidcUser('grace');
    const result = await login(provider, grace.username, grace.password);
    expect(result.redirect?.searchParams.get('state')).toBe('state-1');
    const tokens = await token(provider, {
      grant_type: 'authorization_code',
      code: result.redirect!.searchParams.get('code')!,
      redirect_uri: client.redirectUris[0],
    });
    expect(tokens.id_token).toEqual(expect.any(String));
    const userinfo = await fetch(`${provider.issuer}/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    }).then(r => r.json());
    expect(userinfo).toMatchObject({
      sub: 'grace',
      email: 'grace@example.com',
      email_verified: true,
      name: 'Grace Hopper',
    });
    const refreshed = await token(provider, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    });
    expect(refreshed.access_token).toEqual(expect.any(String));
  });

  it('refuses a wrong password on its form', async () => {
    const result = await login(provider, 'ada', 'not-her-password');
    expect(result.status).toBe(401);
    expect(result.body).toContain('Invalid username or password.');
  });
});
