export interface Config {
  marketplace?: {
    /**
     * ISO 4217 currency the plan prices are shown in. Default USD.
     * @visibility frontend
     */
    currency?: string;
    availability?: {
      /** Consecutive failed runs after which an agent shows as degraded. Default 3. */
      degradedAfterFailures?: number;
    };
    sync?: {
      /** How often the listing index is re-read from the catalog. Default 300. */
      frequencySeconds?: number;
      /** Delay of the first sync after start-up. Default 5. */
      initialDelaySeconds?: number;
    };
  };
}
