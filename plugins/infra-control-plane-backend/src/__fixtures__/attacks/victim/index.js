// A run with a secret and a private input that stays alive for a while, so a
// concurrent run can try to read them.
module.exports = {
  async handler(input, ctx) {
    const secret = ctx.secrets.require('VICTIM_SECRET');
    ctx.log('victim holding its secret');
    await new Promise(resolve => setTimeout(resolve, input.holdMs || 4000));
    return { held: secret.length };
  },
};
