import { V1Job, V1Pod } from '@kubernetes/client-node';
import { AGENT_CONTAINER } from '../jobSpec';
import { ExecutorExit } from '../types';
import { InFlight } from './types';

/** The newest pod of the run's Job, from the shared pod informer. */
export function latestPodOf(run: InFlight): V1Pod | undefined {
  const pods = run.cluster.pods
    .list(run.cluster.target.namespace)
    .filter(p => p.metadata?.labels?.['job-name'] === run.jobName);
  return pods.sort((a, b) =>
    String(b.metadata?.creationTimestamp ?? '').localeCompare(
      String(a.metadata?.creationTimestamp ?? ''),
    ),
  )[0];
}

/** The exit code of the agent container of a pod, once it terminated. */
export function agentExitCode(pod: V1Pod | undefined): number | undefined {
  return pod?.status?.containerStatuses?.find(c => c.name === AGENT_CONTAINER)
    ?.state?.terminated?.exitCode;
}

export function isFinished(job: V1Job): boolean {
  return (job.status?.conditions ?? []).some(
    c => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
}

/**
 * What a Job's status says about its run: still going (`running` when a pod
 * is active and ready), or how it ended, in the executor's terms. The exit
 * code of a failed pod comes from the pod-failure-policy message, else from
 * `podExitCode`.
 */
export function jobOutcome(
  job: V1Job,
  podExitCode: () => number | undefined,
): { ended: false; running: boolean } | { ended: true; exit: ExecutorExit } {
  const conditions = job.status?.conditions ?? [];
  const complete = conditions.find(
    c => c.type === 'Complete' && c.status === 'True',
  );
  const failed = conditions.find(
    c => c.type === 'Failed' && c.status === 'True',
  );
  if (!complete && !failed) {
    return {
      ended: false,
      running: (job.status?.active ?? 0) > 0 && (job.status?.ready ?? 0) > 0,
    };
  }
  const start = job.status?.startTime
    ? Date.parse(job.status.startTime as any)
    : undefined;
  const end = job.status?.completionTime ?? (failed?.lastTransitionTime as any);
  const computeSeconds =
    start && end
      ? Math.max(0, (Date.parse(end as any) - start) / 1000)
      : undefined;
  if (complete) {
    return { ended: true, exit: { exitCode: 0, computeSeconds } };
  }
  const reason = failed!.reason ?? '';
  const message = failed!.message ?? '';
  if (reason === 'DeadlineExceeded') {
    return {
      ended: true,
      exit: {
        timedOut: true,
        computeSeconds,
        message: `The Job exceeded its deadline of ${job.spec?.activeDeadlineSeconds}s`,
      },
    };
  }
  if (reason === 'PodFailurePolicy') {
    const code = /exit code (\d+)/.exec(message);
    return {
      ended: true,
      exit: {
        exitCode: code ? Number(code[1]) : podExitCode(),
        computeSeconds,
      },
    };
  }
  return {
    ended: true,
    exit: {
      infraReason:
        reason === 'BackoffLimitExceeded'
          ? 'backoff-limit-exceeded'
          : 'job-failed',
      computeSeconds,
      message: `The Job failed (${
        reason || 'unknown reason'
      }): ${message}`.slice(0, 500),
    },
  };
}
