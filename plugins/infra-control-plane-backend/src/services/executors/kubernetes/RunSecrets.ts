import { LoggerService } from '@backstage/backend-plugin-api';
import { ExecutionPlan } from '@internal/plugin-agents-common';
import { EGRESS_CREDENTIAL_KEY } from '@internal/plugin-infra-control-plane-node';
import { V1Job, V1Secret } from '@kubernetes/client-node';
import {
  ANNOTATIONS,
  LABELS,
  MANAGED_BY,
  labelSafe,
  runSecretNameFor,
} from '../jobSpec';
import { Backoff, isTransient, statusCode } from './apiErrors';
import { InFlight, KubernetesApiCallCounts } from './types';

/**
 * The per-execution Secret of a run: the values of its `user` secrets (when
 * the executor resolves them) and its egress credential, created owned by
 * the run's Job so that the garbage collector deletes both together. Values
 * are never logged.
 */
export class RunSecrets {
  constructor(
    private readonly deps: {
      logger: LoggerService;
      apiCalls: KubernetesApiCallCounts;
      maxRetryDelayMs: number;
      resolveUserSecrets?: (
        plan: ExecutionPlan,
      ) => Promise<Map<string, string>>;
      egressCredential?: (plan: ExecutionPlan) => string;
      /** True once the run should stop trying (stopped, cancelled, replaced). */
      shouldStop: (run: InFlight) => boolean;
      /** True once the executor stopped. */
      stopped: () => boolean;
    },
  ) {}

  /** The Secret's name, when the run needs one. */
  nameFor(plan: ExecutionPlan): string | undefined {
    return this.needsUserSecrets(plan) || this.needsEgressCredential(plan)
      ? runSecretNameFor(plan.executionId, plan.attempt)
      : undefined;
  }

  needsUserSecrets(plan: ExecutionPlan): boolean {
    return Boolean(
      this.deps.resolveUserSecrets &&
        plan.secrets.some(ref => ref.source === 'user'),
    );
  }

  private needsEgressCredential(plan: ExecutionPlan): boolean {
    return Boolean(
      this.deps.egressCredential && plan.tools.some(t => t.name === 'http'),
    );
  }

  /**
   * What goes into the run Secret: the resolved user secrets (retried until
   * they resolve; undefined when the run stopped meanwhile) and the egress
   * credential. Throws when the credential cannot be made.
   */
  async values(run: InFlight): Promise<Map<string, string> | undefined> {
    let values = new Map<string, string>();
    if (this.needsUserSecrets(run.plan)) {
      const resolved = await this.resolveUserSecrets(run);
      if (!resolved) return undefined;
      values = new Map(resolved);
    }
    if (this.needsEgressCredential(run.plan)) {
      values.set(EGRESS_CREDENTIAL_KEY, this.deps.egressCredential!(run.plan));
    }
    return values;
  }

  /** Creates the Secret if the run has values for it (409-safe), e.g. after a crash. */
  async ensure(run: InFlight, job: V1Job) {
    const values = await this.values(run);
    if (values?.size) await this.create(run, job, values);
  }

  /**
   * Creates the run's Secret with the values, owned by its Job. 409: it
   * exists already (a repeated dispatch). False when it failed for good.
   */
  async create(
    run: InFlight,
    job: V1Job,
    values: Map<string, string>,
  ): Promise<boolean> {
    const { cluster, plan } = run;
    const ns = cluster.target.namespace;
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      immutable: true,
      metadata: {
        name: run.secretName!,
        namespace: ns,
        labels: {
          [LABELS.managedBy]: MANAGED_BY,
          [LABELS.executionId]: labelSafe(plan.executionId),
        },
        annotations: {
          [ANNOTATIONS.executionId]: plan.executionId,
          [ANNOTATIONS.attempt]: String(plan.attempt),
        },
        ownerReferences: [
          {
            apiVersion: 'batch/v1',
            kind: 'Job',
            name: job.metadata!.name!,
            uid: job.metadata!.uid!,
            controller: true,
          },
        ],
      },
      stringData: Object.fromEntries(values),
    };
    const backoff = new Backoff(this.deps.maxRetryDelayMs);
    for (let attempt = 1; ; attempt++) {
      if (this.deps.stopped()) return false;
      try {
        this.deps.apiCalls.secretCreate += 1;
        await cluster.core.createNamespacedSecret({ namespace: ns, body });
        return true;
      } catch (error: any) {
        const code = statusCode(error);
        if (code === 409) return true;
        if (!isTransient(error)) {
          // Only the status: an error body could echo what was sent.
          this.deps.logger.warn('The cluster refused the run Secret', {
            executionId: plan.executionId,
            status: code,
          });
          return false;
        }
        if (attempt === 1 || attempt % 10 === 0) {
          this.deps.logger.warn('Creating the run Secret failed, retrying', {
            executionId: plan.executionId,
            attempt,
            status: code,
          });
        }
      }
      await backoff.wait();
    }
  }

  /** Deletes the run's Secret (cancel); 404 is fine, the GC may have been first. */
  async delete(run: InFlight) {
    if (!run.secretName) return;
    const backoff = new Backoff(this.deps.maxRetryDelayMs);
    for (let attempt = 1; attempt <= 10; attempt++) {
      try {
        this.deps.apiCalls.secretDelete += 1;
        await run.cluster.core.deleteNamespacedSecret({
          name: run.secretName,
          namespace: run.cluster.target.namespace,
        });
        return;
      } catch (error: any) {
        if (
          statusCode(error) === 404 ||
          !isTransient(error) ||
          this.deps.stopped()
        ) {
          return;
        }
      }
      await backoff.wait();
    }
  }

  /** Resolves the run's user secrets, retrying failures; undefined when the run stopped meanwhile. */
  private async resolveUserSecrets(
    run: InFlight,
  ): Promise<Map<string, string> | undefined> {
    const backoff = new Backoff(this.deps.maxRetryDelayMs);
    for (let attempt = 1; ; attempt++) {
      if (this.deps.shouldStop(run)) return undefined;
      try {
        return await this.deps.resolveUserSecrets!(run.plan);
      } catch (error: any) {
        if (attempt === 1 || attempt % 10 === 0) {
          this.deps.logger.warn('Resolving user secrets failed, retrying', {
            executionId: run.plan.executionId,
            attempt,
            error: String(error?.name ?? 'Error'),
          });
        }
      }
      await backoff.wait();
    }
  }
}
