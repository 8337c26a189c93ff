import { fixtureDir, makePlan } from './__testUtils__';
import { startLocalPlane } from './__testUtils__/localPlane';

jest.setTimeout(120_000);

describe('a run that exits 0 without a result', () => {
  let plane: Awaited<ReturnType<typeof startLocalPlane>>;
  beforeAll(async () => {
    plane = await startLocalPlane({});
  });
  afterAll(() => plane?.stop());

  it('is failed / no-result, never succeeded', async () => {
    const done = await plane.run(
      makePlan({
        codeDir: fixtureDir('exits-early'),
        input: {},
        outputSchema: undefined,
      }),
    );
    expect(done).toMatchObject({
      state: 'failed',
      exitReason: 'no-result',
      exitCode: 0,
    });
    expect(done.message).toContain('without reporting a result');
  });
});
