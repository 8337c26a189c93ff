// Always Fails: for testing failure paths.
module.exports = {
  async handler(input, ctx) {
    ctx.log('about to fail on purpose');
    throw new Error(input.message ?? 'this agent always fails');
  },
};
