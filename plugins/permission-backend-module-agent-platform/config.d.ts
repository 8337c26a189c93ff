export interface Config {
  agentPlatform?: {
    permission?: {
      /** How long the policy caches the marketplace's visibility overrides. Default 5. */
      overridesCacheSeconds?: number;
    };
  };
}
