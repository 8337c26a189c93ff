export interface Config {
  agentPlatform?: {
    permission?: {
      /** How long the policy caches the marketplace's visibility overrides. Default 5. */
      overridesCacheSeconds?: number;
      /**
       * Groups whose members are platform admins (full refs such as
       * `group:default/platform-admins`, or bare group names). Admins get the
       * admin column of docs/permissions.md: catalog writes, unprocessed
       * entities, every scaffolder action (`kubernetes:job:create`), every
       * task. Default: none, so nobody is an admin.
       */
      adminGroups?: string[];
    };
  };
}
