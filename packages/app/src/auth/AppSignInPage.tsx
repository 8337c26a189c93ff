import {
  SignInPage,
  type SignInProviderConfig,
} from '@backstage/core-components';
import {
  configApiRef,
  type SignInPageProps,
  useApi,
} from '@backstage/core-plugin-api';
import { oidcAuthApiRef } from './oidcAuthApi';

/** The organisation's identity provider, through the backend's `oidc` provider. */
export const oidcSignInProvider: SignInProviderConfig = {
  id: 'oidc-auth-provider',
  title: 'Single sign-on',
  message: 'Sign in with your organisation account',
  apiRef: oidcAuthApiRef,
};

/**
 * The portal's sign-in page. The embedded default (`auth.environment:
 * development`, app-config.yaml) signs in as the guest user; every other
 * environment (production, the e2e tests) signs in through OpenID Connect,
 * with users resolved by email to catalog users on the backend.
 */
export function AppSignInPage(props: SignInPageProps) {
  const configApi = useApi(configApiRef);
  const environment =
    configApi.getOptionalString('auth.environment') ?? 'development';
  return (
    <SignInPage
      {...props}
      auto
      providers={
        environment === 'development' ? ['guest'] : [oidcSignInProvider]
      }
    />
  );
}
