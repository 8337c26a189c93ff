export interface Config {
  /** The infra control plane: where and how execution plans run. */
  infraControlPlane?: {
    /**
     * Which executor runs plans: `local` (child processes on this machine,
     * the embedded default) or `kubernetes` (hardened Jobs).
     */
    executor?: 'local' | 'kubernetes';

    /** Platform secrets for the local executor, by reference (SecretReference.ref). @deepVisibility secret */
    secrets?: { [ref: string]: string };

    /** Limits applied to every run's stored logs. */
    logs?: {
      /** Bytes of log text kept per execution (default 262144); the rest is replaced by a truncation marker. */
      maxBytes?: number;
    };

    /** Settings passed to the agent runtime. */
    runtime?: {
      /** AGENT_MAX_RESULT_BYTES (default 1 MiB). */
      maxResultBytes?: number;
      /** AGENT_HEARTBEAT_SECONDS (default 10). */
      heartbeatSeconds?: number;
      /** AGENT_LLM_BASE_URL for the llm tool. */
      llmBaseUrl?: string;
      /** AGENT_LLM_MODEL for the llm tool. */
      llmModel?: string;
    };

    /** The local executor. */
    local?: {
      /** Path of bin/agent-runtime.js; default: packages/agent-runtime of this repository. */
      runtimePath?: string;
      /** Runs at once on this machine; more are queued (default: number of CPUs). */
      maxConcurrency?: number;
      /** Seconds between SIGTERM and SIGKILL when a run is cancelled or times out (default 5). */
      killGraceSeconds?: number;
      /** Extra seconds after the plan's timeout before the process is stopped by the executor (default 5); the runtime normally stops itself first. */
      timeoutGraceSeconds?: number;
      /**
       * Where local runs live: `bubblewrap` (the default: one sandbox per run
       * with its own namespaces, unprivileged uid, cgroup limits and no network)
       * or `none` (plain child processes with the portal's privileges; only for
       * trusted agents, logged as a warning at start-up). When the sandbox cannot
       * be set up, the executor refuses every run and says why in /health.
       */
      sandbox?: 'bubblewrap' | 'none';
      /** Size in MiB of a sandboxed run's private scratch tmpfs (default 64; counted in its memory). */
      scratchMiB?: number;
      /** Processes and threads a sandboxed run may have at once (cgroup pids.max, default 64). */
      maxProcesses?: number;
      /** First host uid of the per-run unprivileged identities (default 810000). */
      sandboxUidBase?: number;
      /** cgroup v2 folder delegated for runs, when /sys/fs/cgroup/agent-platform-runs cannot be created. */
      cgroupRoot?: string;
    };

    /**
     * The egress proxy: the only way out of a run, for both executors (a
     * Unix socket per local run; the `agent-egress` Service for pods).
     */
    egress?: {
      /**
       * HMAC key of the per-run credentials (at least 32 characters). The same
       * on every replica; a random key per process when unset (one replica).
       * @visibility secret
       */
      key?: string;
      /** TCP port the proxy listens on with the Kubernetes executor (default 3128). */
      port?: number;
      /** Ports allowed for hosts of the `http` allow-list without an explicit port (default [80, 443]). */
      ports?: number[];
      /**
       * Addresses runs may reach although they are private, loopback or
       * link-local (internal APIs meant for agents), as CIDRs.
       */
      allowPrivateCidrs?: string[];
    };

    /** The Kubernetes executor. */
    kubernetes?: {
      /** Clusters; runs go to the first one. */
      clusters: Array<{
        /** A name for logs and records. */
        name: string;
        /** Namespace the agent Jobs run in. */
        namespace: string;
        /** `inCluster` uses the pod's ServiceAccount; `kubeconfig` reads kubeconfigPath (or the default). */
        authProvider?: 'inCluster' | 'kubeconfig';
        /** Path of a kubeconfig file. */
        kubeconfigPath?: string;
        /** Context of the kubeconfig to use. */
        context?: string;
        /**
         * Generic platform tasks (the `kubernetes:job:create` scaffolder
         * action): their namespace (default `agent-platform-tasks`) and the
         * task ServiceAccount's token file; without it, the cluster's own
         * credentials (development only).
         */
        tasks?: {
          namespace?: string;
          tokenPath?: string;
        };
      }>;
      /** Kubernetes Secret that holds platform secrets (SecretReference.ref `name` means key `name` of it); default `agent-platform-secrets`. */
      platformSecretName?: string;
      /** Seconds a finished Job is kept (default 3600). */
      ttlSecondsAfterFinished?: number;
      /** Job backoffLimit for failures that are not agent errors (default 2). */
      backoffLimit?: number;
      /** Extra seconds added to the plan's timeout for activeDeadlineSeconds (default 15). */
      deadlineGraceSeconds?: number;
      /** Image pull policy of agent containers. */
      imagePullPolicy?: string;
    };
  };
}
