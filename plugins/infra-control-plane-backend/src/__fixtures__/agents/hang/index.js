// Blocks its event loop, so the runtime's own timeout can never fire and
// SIGTERM handlers never run: only the executor's SIGKILL ends it.
module.exports = {
  handler() {
    for (;;) {
      // busy
    }
  },
};
