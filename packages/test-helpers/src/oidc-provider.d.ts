/**
 * The part of oidc-provider's API (v9, which ships no type declarations)
 * that the test OpenID provider uses.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface ClientMetadata {
    client_id: string;
    client_secret?: string;
    redirect_uris: string[];
    grant_types?: string[];
    response_types?: string[];
    token_endpoint_auth_method?: string;
    [key: string]: unknown;
  }

  export interface Account {
    accountId: string;
    claims(
      use: string,
      scope: string,
    ): Promise<Record<string, unknown>> | Record<string, unknown>;
  }

  export interface ClientInstance {
    clientId: string;
    grantTypeAllowed(grantType: string): boolean;
  }

  export interface InteractionDetails {
    uid: string;
    grantId?: string;
    prompt: {
      name: string;
      reasons: string[];
      details: {
        missingOIDCScope?: string[];
        missingOIDCClaims?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
    };
    params: Record<string, unknown> & { client_id: string };
    session?: { accountId: string };
  }

  export interface InteractionResults {
    login?: { accountId: string };
    consent?: { grantId?: string };
    error?: string;
    error_description?: string;
  }

  export interface Grant {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export interface Configuration {
    clients?: ClientMetadata[];
    jwks?: { keys: Record<string, unknown>[] };
    cookies?: { keys?: string[] };
    claims?: Record<string, string[]>;
    features?: Record<string, { enabled: boolean } & Record<string, unknown>>;
    findAccount?(
      ctx: unknown,
      sub: string,
    ): Promise<Account | undefined> | Account | undefined;
    interactions?: {
      url?(
        ctx: unknown,
        interaction: { uid: string },
      ): Promise<string> | string;
    };
    issueRefreshToken?(
      ctx: unknown,
      client: ClientInstance,
      code: unknown,
    ): Promise<boolean> | boolean;
    pkce?: { required?(ctx: unknown, client: ClientInstance): boolean };
    ttl?: Record<string, number>;
    [key: string]: unknown;
  }

  class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    proxy: boolean;
    Grant: new (properties: { accountId: string; clientId: string }) => Grant;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    interactionDetails(
      req: IncomingMessage,
      res: ServerResponse,
    ): Promise<InteractionDetails>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    on(event: string, listener: (...args: any[]) => void): this;
  }

  export { Provider };
  export default Provider;
}
