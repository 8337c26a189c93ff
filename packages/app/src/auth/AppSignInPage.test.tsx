import { screen } from '@testing-library/react';
import { configApiRef, discoveryApiRef } from '@backstage/core-plugin-api';
import {
  MockConfigApi,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { AppSignInPage } from './AppSignInPage';
import { oidcAuthApiRef } from './oidcAuthApi';

const signedOut = {
  getBackstageIdentity: async () => undefined,
  getProfile: async () => undefined,
  getIdToken: async () => '',
  signIn: async () => {},
  signOut: async () => {},
  sessionState$: () => ({ subscribe: () => ({ unsubscribe() {} }) }),
} as unknown as typeof oidcAuthApiRef.T;

function renderFor(environment: string) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [
          configApiRef,
          new MockConfigApi({
            app: { title: 'Agent Platform' },
            backend: { baseUrl: 'http://localhost:7007' },
            auth: { environment },
          }),
        ],
        [oidcAuthApiRef, signedOut],
        [
          discoveryApiRef,
          {
            getBaseUrl: async (id: string) => `http://localhost:7007/api/${id}`,
          },
        ],
      ]}
    >
      <AppSignInPage onSignInSuccess={() => {}} />
    </TestApiProvider>,
  );
}

describe('AppSignInPage', () => {
  it('offers guest sign-in in the embedded default (development)', async () => {
    await renderFor('development');
    expect(
      await screen.findByRole('button', { name: 'Enter' }),
    ).toBeInTheDocument();
    expect(screen.queryByText('Single sign-on')).not.toBeInTheDocument();
  });

  it('offers only single sign-on (OpenID Connect) in production', async () => {
    await renderFor('production');
    expect(await screen.findByText('Single sign-on')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Sign In' })).toBeInTheDocument();
    expect(
      screen.queryByRole('button', { name: 'Enter' }),
    ).not.toBeInTheDocument();
  });
});
