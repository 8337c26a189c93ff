import { mockServices } from '@backstage/backend-test-utils';
import { RUNTIME_PATH, makePlan } from '../../../__testUtils__';
import { createSandbox } from '../../createExecutor';
import { SecretResolver } from '../../secrets';
import { LocalProcessExecutor } from '../LocalProcessExecutor';
import { ExecutorExit } from '../types';
import { BubblewrapSandbox } from './BubblewrapSandbox';

describe('when the sandbox cannot be set up', () => {
  it('the executor reports why in its health and refuses every run with that reason', async () => {
    const sandbox = new BubblewrapSandbox({
      runtimePath: RUNTIME_PATH,
      nodePath: '/nonexistent/bin/node',
      scratchMiB: 64,
      maxProcesses: 64,
      uidBase: 810000,
      uidCount: 4,
    });
    const logger = mockServices.logger.mock();
    const executor = new LocalProcessExecutor({
      logger,
      secrets: new SecretResolver(mockServices.rootConfig({ data: {} })),
      runtimePath: RUNTIME_PATH,
      sandbox,
      maxConcurrency: 1,
      killGraceSeconds: 1,
      timeoutGraceSeconds: 1,
      baseEnv: {},
    });
    const exits: Array<[string, ExecutorExit]> = [];
    const dispatched: string[] = [];
    await executor.start({
      dispatched: async id => {
        dispatched.push(id);
      },
      running: async () => {},
      output: async () => {},
      exited: async (id, exit) => {
        exits.push([id, exit]);
      },
    });
    const health = await executor.health();
    expect(health.ok).toBe(false);
    expect(health.message).toMatch(/^local sandbox unavailable: .*nonexistent/);
    expect(logger.error).toHaveBeenCalledWith(
      expect.stringContaining('Local executor refuses every run'),
    );

    const plan = makePlan();
    await executor.run(plan);
    expect(dispatched).toEqual([]);
    expect(exits).toEqual([
      [
        plan.executionId,
        {
          infraReason: 'sandbox-unavailable',
          message: expect.stringContaining(
            'The local executor cannot run agents: local sandbox unavailable',
          ),
        },
      ],
    ]);
    await executor.stop();
  });
});

describe('createSandbox', () => {
  it('uses bubblewrap unless told otherwise, and warns loudly about sandbox: none', () => {
    const logger = mockServices.logger.mock();
    const config = (local: object) =>
      mockServices.rootConfig({ data: { infraControlPlane: { local } } });
    expect(createSandbox(config({}), logger, RUNTIME_PATH, 2).kind).toBe(
      'bubblewrap',
    );
    expect(logger.warn).not.toHaveBeenCalled();
    expect(
      createSandbox(config({ sandbox: 'none' }), logger, RUNTIME_PATH, 2).kind,
    ).toBe('none');
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringContaining('agents run as plain child processes'),
    );
    expect(() =>
      createSandbox(config({ sandbox: 'docker' }), logger, RUNTIME_PATH, 2),
    ).toThrow('infraControlPlane.local.sandbox must be "bubblewrap" or "none"');
  });
});
