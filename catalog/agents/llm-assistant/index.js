// LLM Assistant: needs the `llm` tool and the OPENAI_API_KEY secret.
const { defineAgent } = require('@internal/agent-runtime');

module.exports = defineAgent({
  tools: ['llm'],
  async handler(input, ctx) {
    // Throws `secret not provided: OPENAI_API_KEY` (run ends with secret-missing) without it.
    const apiKey = ctx.secrets.require('OPENAI_API_KEY');
    ctx.log(`Asking ${ctx.tools.llm.model ?? 'the default model'}`);
    const answer = await ctx.tools.llm.complete({
      messages: [
        {
          role: 'system',
          content: 'You are a concise assistant for software engineers.',
        },
        { role: 'user', content: input.question },
      ],
      temperature: input.temperature ?? 0.2,
      apiKey,
    });
    return { answer };
  },
});
