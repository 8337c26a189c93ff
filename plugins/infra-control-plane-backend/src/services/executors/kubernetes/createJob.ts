import { LoggerService } from '@backstage/backend-plugin-api';
import { V1Job } from '@kubernetes/client-node';
import { ANNOTATIONS } from '../jobSpec';
import { ExecutorExit } from '../types';
import { Backoff, isTransient, statusCode } from './apiErrors';
import { InFlight, KubernetesApiCallCounts } from './types';

/**
 * Creates a run's Job, retrying transient errors with backoff. 409 means it
 * exists already (a repeated dispatch): it is read and adopted if it belongs
 * to this execution. Answers the Job, the refusal to record, or undefined
 * when the run should stop trying.
 */
export async function createOrAdoptJob(
  run: InFlight,
  body: V1Job,
  deps: {
    apiCalls: KubernetesApiCallCounts;
    logger: LoggerService;
    maxRetryDelayMs: number;
    shouldStop: () => boolean;
  },
): Promise<{ job: V1Job } | { refused: ExecutorExit } | undefined> {
  const { cluster, plan } = run;
  const ns = cluster.target.namespace;
  const backoff = new Backoff(deps.maxRetryDelayMs);
  for (let attempt = 1; ; attempt++) {
    if (deps.shouldStop()) return undefined;
    try {
      deps.apiCalls.create += 1;
      return {
        job: await cluster.batch.createNamespacedJob({ namespace: ns, body }),
      };
    } catch (error: any) {
      const code = statusCode(error);
      if (code === 409) {
        deps.apiCalls.read += 1;
        try {
          const existing = await cluster.batch.readNamespacedJob({
            name: run.jobName,
            namespace: ns,
          });
          const owner =
            existing.metadata?.annotations?.[ANNOTATIONS.executionId];
          if (owner !== plan.executionId) {
            return {
              refused: {
                infraReason: 'dispatch-failed',
                message: `Job ${run.jobName} exists and belongs to another execution`,
              },
            };
          }
          return { job: existing };
        } catch (readError: any) {
          if (statusCode(readError) === 404) continue; // deleted meanwhile
          if (!isTransient(readError)) throw readError;
        }
      } else if (!isTransient(error)) {
        return {
          refused: {
            infraReason: 'dispatch-failed',
            message: `The cluster refused the Job (HTTP ${code}): ${String(
              error?.body?.message ?? error?.message ?? '',
            ).slice(0, 500)}`,
          },
        };
      } else if (attempt === 1 || attempt % 10 === 0) {
        deps.logger.warn('Creating the Job failed, retrying', {
          executionId: plan.executionId,
          attempt,
          error: String(error?.message ?? error),
        });
      }
    }
    await backoff.wait();
  }
}
