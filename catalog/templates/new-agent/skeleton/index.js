// ${{ values.name }}: ${{ values.description }}
const { defineAgent } = require('@internal/agent-runtime');

module.exports = defineAgent({
  tools: ${{ (values.tools or []) | dump }},
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
      message: `${{ values.name }} received ${fields.length} field(s)`,
      received: input,
      tools: Object.keys(ctx.tools),
    };
  },
});
