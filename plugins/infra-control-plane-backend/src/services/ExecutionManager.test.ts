import path from 'node:path';
import { TestDatabases } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { ExecutionUpdate } from '@internal/plugin-agents-common';
import { ExecutionStore } from '../database/ExecutionStore';
import { makePlan, RUNTIME_PATH, testSandbox, waitFor } from '../__testUtils__';
import { quietLogger } from '../__testUtils__/kubernetes';
import { UpdateDelivery } from './delivery/UpdateDelivery';
import { ExecutionManager } from './ExecutionManager';
import { LocalProcessExecutor } from './executors/LocalProcessExecutor';
import { SecretResolver } from './secrets';

jest.setTimeout(60_000);

describe('ExecutionManager with the local executor after a restart', () => {
  const databases = TestDatabases.create({
    ids: ['SQLITE_3'],
    disableDocker: true,
  });

  it('starts runs that never started and fails (never re-runs) runs that were running', async () => {
    const knex = await databases.init('SQLITE_3');
    await knex.migrate.latest({
      directory: path.resolve(__dirname, '../../migrations'),
    });
    const store = new ExecutionStore(knex);

    // What the previous portal process left behind.
    const neverStarted = makePlan();
    await store.insert(neverStarted, 'local');
    await store.markDispatched(neverStarted.executionId);
    const wasRunning = makePlan();
    await store.insert(wasRunning, 'local');
    await store.markRunning(wasRunning.executionId, new Date().toISOString());
    const cancelRequested = makePlan();
    await store.insert(cancelRequested, 'local');
    await store.requestCancel(cancelRequested.executionId);

    const received: ExecutionUpdate[] = [];
    const logger = quietLogger();
    const secrets = new SecretResolver(new ConfigReader({}));
    const delivery = new UpdateDelivery({
      store,
      logger,
      auth: {
        getOwnServiceCredentials: async () => ({}),
        getPluginRequestToken: async () => ({ token: 't' }),
      } as any,
      discovery: { getBaseUrl: async () => 'http://pcp.invalid' } as any,
      intervalMs: 50,
      fetchFn: (async (_url: string, init: any) => {
        received.push(JSON.parse(init.body));
        return new Response('{}', { status: 200 });
      }) as any,
    });
    const manager = new ExecutionManager({
      store,
      delivery,
      secrets,
      logger,
      maxLogBytes: 10_000,
      executor: new LocalProcessExecutor({
        logger,
        secrets,
        runtimePath: RUNTIME_PATH,
        sandbox: testSandbox(),
        maxConcurrency: 2,
        killGraceSeconds: 1,
        timeoutGraceSeconds: 1,
        baseEnv: {},
      }),
    });
    await manager.start();
    delivery.start();
    try {
      const end = (id: string) =>
        waitFor(async () => {
          const r = await store.get(id);
          return (
            r && ['succeeded', 'failed', 'cancelled'].includes(r.state) && r
          );
        }, id);
      expect(await end(neverStarted.executionId)).toMatchObject({
        state: 'succeeded',
      });
      expect(await end(wasRunning.executionId)).toMatchObject({
        state: 'failed',
        exitReason: 'executor-restarted',
      });
      expect(await end(cancelRequested.executionId)).toMatchObject({
        state: 'cancelled',
      });
      await waitFor(
        () =>
          received.some(
            u =>
              u.executionId === neverStarted.executionId &&
              u.state === 'succeeded',
          ),
        'delivery',
      );
      // The run that was in progress was not started again.
      expect(await store.readLogs(wasRunning.executionId, 0, 10)).toEqual([]);
    } finally {
      await delivery.stop();
      await manager.stop();
    }
  });
});
