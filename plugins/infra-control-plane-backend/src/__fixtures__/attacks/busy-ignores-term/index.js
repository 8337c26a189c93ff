// Hostile: ignores SIGTERM and burns CPU in a loop that still yields, so only
// the executor's SIGKILL after the deadline ends it.
process.removeAllListeners('SIGTERM');
process.on('SIGTERM', () => {});
module.exports = {
  async handler() {
    for (;;) {
      const until = Date.now() + 50;
      while (Date.now() < until) {
        // burn
      }
      await new Promise(resolve => setImmediate(resolve));
    }
  },
};
