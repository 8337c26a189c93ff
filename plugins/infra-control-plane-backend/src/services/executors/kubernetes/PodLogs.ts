import { Log, V1Pod } from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import { AGENT_CONTAINER } from '../jobSpec';
import { ExecutorListener } from '../types';
import { InFlight, KubernetesApiCallCounts } from './types';

/**
 * A run's pod log, the runtime's events: streamed live while the pod runs,
 * then read once at the end for whatever the stream did not deliver (logs
 * are append-only, so the bytes already streamed are skipped).
 */
export class PodLogs {
  constructor(
    private readonly deps: {
      apiCalls: KubernetesApiCallCounts;
      listener: () => ExecutorListener;
      /** Bytes of pod log read per run (default 1 MiB). */
      maxLogReadBytes?: number;
    },
  ) {}

  private get limitBytes() {
    return this.deps.maxLogReadBytes ?? 1024 * 1024;
  }

  /** Streams the running pod's log live into the run's stored lines. */
  follow(run: InFlight, podName: string) {
    const follow: NonNullable<InFlight['follow']> = { bytes: 0, pod: podName };
    run.follow = follow;
    const id = run.plan.executionId;
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        if (run.follow !== follow || run.finishing) {
          callback();
          return;
        }
        follow.bytes += chunk.length;
        this.deps
          .listener()
          .output(id, 'stdout', [chunk.toString('utf8')])
          .then(
            () => callback(),
            () => callback(),
          );
      },
    });
    this.deps.apiCalls.log += 1;
    new Log(run.cluster.target.kubeConfig)
      .log(run.cluster.target.namespace, podName, AGENT_CONTAINER, sink, {
        follow: true,
        limitBytes: this.limitBytes,
      })
      .then(
        controller => {
          follow.controller = controller;
          if (run.finishing) controller.abort();
        },
        () => undefined, // the final read covers what the stream could not
      );
  }

  /** Stops the live stream and reads the rest of the pod's log once. */
  async finish(run: InFlight, pod: V1Pod | undefined): Promise<void> {
    const id = run.plan.executionId;
    const listener = this.deps.listener();
    const streamed =
      run.follow && run.follow.pod === pod?.metadata?.name
        ? run.follow.bytes
        : 0;
    run.follow?.controller?.abort();
    if (!pod?.metadata?.name) return;
    try {
      this.deps.apiCalls.log += 1;
      const text = await run.cluster.core.readNamespacedPodLog({
        name: pod.metadata.name,
        namespace: run.cluster.target.namespace,
        container: AGENT_CONTAINER,
        limitBytes: this.limitBytes,
      });
      const rest = Buffer.from(text ?? '', 'utf8')
        .subarray(streamed)
        .toString('utf8');
      if (rest) {
        await listener.output(id, 'stdout', [
          rest.endsWith('\n') ? rest : `${rest}\n`,
        ]);
      } else if (streamed) {
        await listener.output(id, 'stdout', ['\n']);
      }
    } catch (error: any) {
      await listener.output(id, 'stderr', [
        `[pod logs unavailable: ${String(error?.message ?? error).slice(
          0,
          200,
        )}]\n`,
      ]);
    }
  }
}
