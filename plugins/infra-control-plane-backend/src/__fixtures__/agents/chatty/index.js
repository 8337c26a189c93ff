// Logs a lot, to hit the stored-log size limit.
module.exports = {
  async handler(input, ctx) {
    for (let i = 0; i < (input.lines ?? 200); i++) {
      ctx.log(`line ${i} ${'x'.repeat(100)}`);
    }
    return { done: true };
  },
};
