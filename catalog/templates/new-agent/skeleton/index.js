// The agent's handler. What the "New agent" template was told (name, tools,
// input fields) is data in agent.json; this file holds only code.
const { defineAgent } = require('@internal/agent-runtime');
const agent = require('./agent.json');

module.exports = defineAgent({
  tools: agent.tools,
  /**
   * One run: `input` matches spec.input of catalog-info.yaml, the result must
   * match spec.output. `ctx` has log, progress, signal, secrets and only the
   * granted tools (see packages/agent-runtime/README.md).
   */
  async handler(input, ctx) {
    const fields = Object.keys(input);
    ctx.log(`received ${fields.length} field(s): ${fields.join(', ')}`);
    ctx.progress(100, 'done');
    return {
      message: `${agent.name} received ${fields.length} field(s)`,
      received: input,
      tools: Object.keys(ctx.tools),
    };
  },
});
