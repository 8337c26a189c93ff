// LLM Assistant: needs the `llm` tool and the OPENAI_API_KEY secret.
module.exports = {
  async handler(input, ctx) {
    const key = ctx.secrets.get('OPENAI_API_KEY');
    if (!key) {
      throw new Error('secret not provided: OPENAI_API_KEY');
    }
    const answer = await ctx.tools.llm.complete({
      messages: [{ role: 'user', content: input.question }],
      temperature: input.temperature ?? 0.2,
      apiKey: key,
    });
    return { answer };
  },
};
