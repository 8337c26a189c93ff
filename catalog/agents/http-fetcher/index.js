// HTTP Fetcher: needs the `http` tool (allow-listed by the platform).
const { defineAgent } = require('@internal/agent-runtime');

module.exports = defineAgent({
  tools: ['http'],
  async handler(input, ctx) {
    const res = await ctx.tools.http.fetch(input.url);
    const body = await res.text();
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(body);
    ctx.log(`GET ${input.url} -> ${res.status}`);
    return {
      status: res.status,
      contentType: res.headers.get('content-type') ?? '',
      bytes: Buffer.byteLength(body),
      ...(title ? { title: title[1].trim() } : {}),
    };
  },
});
