// Hostile: allocates memory outside V8's heap until something stops it.
module.exports = {
  async handler(input, ctx) {
    const hold = [];
    for (let i = 0; ; i++) {
      hold.push(Buffer.alloc(8 * 1024 * 1024, i));
      if (i % 16 === 0) ctx.log(`holding ${(i + 1) * 8} MiB`);
      await new Promise(resolve => setImmediate(resolve));
    }
  },
};
