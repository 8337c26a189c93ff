// Hostile: tries the network directly, past every tool: the portal's port on
// loopback, an outside address, and a DNS lookup.
const net = require('node:net');
const dns = require('node:dns');

function connect(host, port) {
  return new Promise(resolve => {
    const socket = net.connect({ host, port, timeout: 3000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('error', e => resolve(e.code || e.message));
  });
}

module.exports = {
  async handler(input) {
    const result = {};
    for (const [host, port] of input.targets) {
      result[`${host}:${port}`] = await connect(host, port);
    }
    result.dns = await new Promise(resolve =>
      dns.lookup(input.name || 'example.com', e =>
        resolve(e ? e.code : 'resolved'),
      ),
    );
    try {
      const res = await fetch(input.url, { signal: AbortSignal.timeout(3000) });
      result.fetch = `status ${res.status}`;
    } catch (e) {
      result.fetch = (e.cause && e.cause.code) || e.name;
    }
    return result;
  },
};
