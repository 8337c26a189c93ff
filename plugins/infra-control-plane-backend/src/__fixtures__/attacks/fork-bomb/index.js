// Hostile: starts processes until the kernel says no.
const { spawn } = require('node:child_process');

module.exports = {
  async handler() {
    const startOne = () =>
      new Promise(resolve => {
        const child = spawn(
          process.execPath,
          ['--max-old-space-size=8', '-e', 'setInterval(() => {}, 1000)'],
          {
            stdio: 'ignore',
          },
        );
        child.once('spawn', () => resolve(undefined));
        child.once('error', e => resolve(e.code || e.message));
      });
    let started = 0;
    let refusal;
    for (let i = 0; i < 500 && !refusal; i++) {
      refusal = await startOne();
      if (!refusal) started++;
    }
    return { started, refusal: refusal || 'none' };
  },
};
