const fs = require('node:fs');
// Writes its secret straight to file descriptor 1, past the runtime's own
// redaction, to prove the infra control plane redacts what it stores.
module.exports = {
  async handler(_input, ctx) {
    const token = ctx.secrets.require('API_TOKEN');
    fs.writeSync(1, `raw line with ${token} inside\n`);
    return { length: token.length, echoed: `token=${token}` };
  },
};
