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
     * Platform secrets, by name. Only names are ever exposed; runs see the
     * ones their agent declares.
     * @visibility secret
     */
    secrets?: { [name: string]: string };
    userSecrets?: {
      /**
       * 32-byte key (base64 or any passphrase, hashed with SHA-256) that
       * encrypts user-provided secrets at rest. Without it a key is generated
       * and kept in the plugin's database.
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
