// Slow Counter: long-running, emits progress.
const { defineAgent } = require('@internal/agent-runtime');

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new Error('aborted'));
    });
  });

module.exports = defineAgent({
  async handler(input, ctx) {
    const steps = input.steps ?? 10;
    const interval = input.intervalMs ?? 1000;
    for (let i = 1; i <= steps; i++) {
      await sleep(interval, ctx.signal);
      ctx.progress(Math.round((i / steps) * 100), `step ${i} of ${steps}`);
    }
    return { counted: steps };
  },
});
