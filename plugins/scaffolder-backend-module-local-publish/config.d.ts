export interface Config {
  agentPlatform?: {
    localPublish?: {
      /**
       * Folder the `publish:local` scaffolder action writes generated
       * repositories into (one sub-folder per repository), relative to the
       * backend's working directory. A `catalog.locations` entry of type
       * `file` must cover `<directory>/*\/catalog-info.yaml` for the action to
       * register what it publishes. Default `../../.data/agents`.
       * @visibility backend
       */
      directory?: string;
    };
  };
}
