// Dies abruptly, without an error event: the process is killed by a signal.
module.exports = {
  async handler() {
    process.kill(process.pid, 'SIGKILL');
    await new Promise(() => {});
  },
};
