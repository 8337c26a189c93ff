import { testSandbox } from '../../../__testUtils__';

describe('BubblewrapSandbox', () => {
  it('passes its start-up probe on this machine', async () => {
    const sandbox = testSandbox();
    expect(await sandbox.check()).toBeNull();
    expect(sandbox.unavailableReason()).toBeNull();
  });
});
