export interface Config {
  /** Product control plane: policy, secrets and retention of agent executions. */
  productControlPlane?: {
    /** Sync mode: how long a sync request waits for the result before answering 202. Default 30. */
    sync?: {
      maxWaitSeconds?: number;
    };
    policy?: {
      /** Active runs of one agent across all callers, unless listed in `agents`. Default 20. */
      defaultAgentConcurrency?: number;
      /** Per-agent overrides. */
      agents?: Array<{
        agentRef: string;
        concurrency?: number;
        /** Tools granted to this agent, replacing `tools.allow`. */
        tools?: string[];
      }>;
      /** Active runs of one user across all agents. Default 10. */
      userConcurrency?: number;
      /** Whether sync mode is offered at all. Default true. */
      allowSync?: boolean;
      /** Sync mode only for runs whose timeout is at most this. Default 300. */
      syncMaxTimeoutSeconds?: number;
      /** The envelope when neither the agent nor the plan says. */
      defaultResources?: {
        cpu?: string;
        memory?: string;
        timeoutSeconds?: number;
      };
      tools?: {
        /** Tools policy grants (intersected with the agent's spec.tools). Default: all. */
        allow?: string[];
        /** Hosts the http tool may call (exact host or `*.suffix`). */
        httpAllowHosts?: string[];
      };
    };
    /**
     * Platform secret values, by name. Only names are ever exposed, and only
     * to agents granted them in `platformSecrets`.
     * @deepVisibility secret
     */
    secrets?: { [name: string]: string };
    /**
     * Which agents may use which platform secret (default: none). An agent
     * declaring a platform secret it is not granted, with no value of the
     * caller's own, is refused at admission (403).
     */
    platformSecrets?: Array<{
      /** A key of `secrets`. */
      name: string;
      /** Agents granted it (`agent:default/llm-assistant`). */
      agents?: string[];
      /** Groups whose agents (by `spec.owner`) are granted it (`group:default/ml-team`). */
      ownerGroups?: string[];
    }>;
    /** Which images agents may run, checked at admission (403 naming the image). */
    images?: {
      /**
       * Registries, or registry path prefixes (`ghcr.io/acme`), images must
       * come from. Docker Hub images are `docker.io/library/<name>` or
       * `docker.io/<org>/<name>`. Default: `registry.example.com`.
       */
      allowedRegistries?: string[];
      /** Only digest references (`image@sha256:...`). Default false. */
      requireDigest?: boolean;
    };
    userSecrets?: {
      /**
       * Keys that encrypt user-provided secrets at rest (AES-256-GCM); never
       * kept in the database. The first encrypts, the others only decrypt
       * until `rotate-user-secret-key` has re-encrypted every row with the
       * first. The environment variable AGENT_PLATFORM_USER_SECRET_KEY
       * (`<id>:<base64>[,<id>:<base64>...]`, current first) replaces this
       * list when set.
       */
      keys?: Array<{
        /** Stored beside each ciphertext: 1-64 of `A-Za-z0-9._-`. */
        id: string;
        /**
         * 32 random bytes in base64 (`openssl rand -base64 32`).
         * @visibility secret
         */
        key: string;
      }>;
      /**
       * Deprecated: the single key of the first version (base64 of 32 bytes
       * or a passphrase, hashed with SHA-256). Used, with key id
       * `encryptionKey`, when `keys` and the environment variable are
       * unset, and to upgrade rows written before key ids.
       * @visibility secret
       */
      encryptionKey?: string;
    };
    /** Largest result kept in the record, in bytes. Default 1 MiB. */
    maxResultBytes?: number;
    retention?: {
      /** Finished executions older than this are deleted. Default 90. */
      days?: number;
    };
    /**
     * Seconds past a run's timeout (counted from its start, else its
     * dispatch) after which a run the infra plane never reported finished
     * is ended as `timed_out` (`no-report-from-infra`) and cancelled there.
     * Checked every 30 s. Default 300.
     */
    stuckRunGraceSeconds?: number;
    dispatcher?: {
      /** How often pending outbox rows are retried. Default 5. */
      intervalSeconds?: number;
    };
  };
}
