// Always Fails: for testing failure paths (agent-error, exit code 1).
const { defineAgent } = require('@internal/agent-runtime');

module.exports = defineAgent({
  async handler(input, ctx) {
    ctx.log('about to fail on purpose');
    throw new Error(input.message ?? 'this agent always fails');
  },
});
