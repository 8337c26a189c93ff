// Hostile: starts a detached process that would outlive the run (it names
// itself with a marker so the test can look for it on the host).
const { spawn } = require('node:child_process');

module.exports = {
  async handler(input) {
    const child = spawn(
      process.execPath,
      ['-e', `setInterval(() => {}, 1000) /* ${input.marker} */`],
      { detached: true, stdio: 'ignore' },
    );
    child.unref();
    await new Promise(resolve => setTimeout(resolve, 300));
    return { spawned: child.pid > 0 };
  },
};
