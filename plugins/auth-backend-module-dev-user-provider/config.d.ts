export interface Config {
  auth?: {
    providers?: {
      guest?: {
        /**
         * Development only: sign in as `user:default/<name>` when the request
         * carries the `x-agent-platform-dev-user: <name>` header (e2e tests).
         */
        devUserHeader?: boolean;
      };
    };
  };
}
