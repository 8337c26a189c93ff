/**
 * The guest sign-in provider, extended for development and e2e tests: with
 * `auth.providers.guest.devUserHeader: true` and NODE_ENV=development, a
 * request carrying `x-agent-platform-dev-user: <name>` signs in as
 * `user:default/<name>` (a catalog user). Without the header it behaves like
 * the upstream guest provider, so the frontend's guest sign-in is unchanged.
 *
 * @packageDocumentation
 */
import { coreServices, createBackendModule } from '@backstage/backend-plugin-api';
import { NotAllowedError } from '@backstage/errors';
import {
  authProvidersExtensionPoint,
  createProxyAuthenticator,
  createProxyAuthProviderFactory,
} from '@backstage/plugin-auth-node';

/** The header Playwright sets (extraHTTPHeaders) to pick the user. @public */
export const DEV_USER_HEADER = 'x-agent-platform-dev-user';

const isDevelopment = () => process.env.NODE_ENV === 'development';

const devUserAuthenticator = createProxyAuthenticator({
  defaultProfileTransform: async () => ({ profile: {} }),
  initialize({ config }) {
    return {
      allowOutsideDev: config.getOptionalBoolean('dangerouslyAllowOutsideDevelopment') === true,
      headerEnabled: config.getOptionalBoolean('devUserHeader') === true,
    };
  },
  async authenticate({ req }, ctx) {
    if (!isDevelopment() && !ctx.allowOutsideDev) {
      throw new NotAllowedError('The guest provider cannot be used outside of a development environment');
    }
    const header = req.header(DEV_USER_HEADER);
    const user = ctx.headerEnabled && isDevelopment() && header && /^[a-z0-9][a-z0-9._-]{0,62}$/i.test(header) ? header : undefined;
    return { result: { user } };
  },
});

/** @public */
export const authModuleDevUserProvider = createBackendModule({
  pluginId: 'auth',
  moduleId: 'dev-user-provider',
  register(reg) {
    reg.registerInit({
      deps: { providers: authProvidersExtensionPoint, config: coreServices.rootConfig },
      async init({ providers, config }) {
        const guestConfig = config.getConfig('auth.providers.guest');
        const guestRef = guestConfig.getOptionalString('userEntityRef') ?? 'user:development/guest';
        providers.registerProvider({
          providerId: 'guest',
          factory: createProxyAuthProviderFactory({
            authenticator: devUserAuthenticator,
            async signInResolver({ result }, ctx) {
              const entityRef = result.user ? `user:default/${result.user}` : guestRef;
              try {
                return await ctx.signInWithCatalogUser({ entityRef });
              } catch (error) {
                if (result.user) throw error;
                return ctx.issueToken({ claims: { sub: guestRef, ent: [guestRef] } });
              }
            },
          }),
        });
      },
    });
  },
});

export default authModuleDevUserProvider;
