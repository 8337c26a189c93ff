/* eslint-disable no-restricted-syntax -- an agent's own folder is __dirname */
// Hostile: looks for anything of the portal or of other runs it can read:
// every /proc/*/environ and cmdline, the paths it is given (the portal's
// data folder, other runs' folders), and whatever its own folder links to.
const fs = require('node:fs');
const path = require('node:path');

function attempt(fn) {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    return { ok: false, code: e.code || e.message };
  }
}

module.exports = {
  async handler(input) {
    // Markers come in two halves, so that the run's own input (in its own
    // environment) does not hold them whole.
    const markers = (input.markers || []).map(parts => parts.join(''));
    const found = [];
    const look = (where, text) => {
      for (const m of markers)
        if (text.includes(m)) found.push(`${m} in ${where}`);
    };
    const pids = fs.readdirSync('/proc').filter(n => /^\d+$/.test(n));
    for (const pid of pids) {
      for (const file of ['environ', 'cmdline']) {
        const r = attempt(() =>
          fs.readFileSync(`/proc/${pid}/${file}`, 'latin1'),
        );
        if (r.ok) look(`/proc/${pid}/${file}`, r.value);
      }
    }
    const paths = {};
    const listings = {};
    for (const p of input.paths || []) {
      const stat = attempt(() => fs.statSync(p));
      paths[p] = stat.ok ? 'visible' : stat.code;
      if (stat.ok && stat.value.isDirectory()) {
        const list = attempt(() => fs.readdirSync(p));
        if (list.ok) {
          listings[p] = list.value;
          look(p, list.value.join('\n'));
        }
      } else if (stat.ok) {
        const read = attempt(() => fs.readFileSync(p, 'latin1'));
        if (read.ok) look(p, read.value);
      }
    }
    const links = {};
    for (const name of fs.readdirSync(__dirname)) {
      if (name === 'index.js') continue;
      const read = attempt(() =>
        fs.readFileSync(path.join(__dirname, name), 'latin1'),
      );
      links[name] = read.ok ? 'read' : read.code;
      if (read.ok) look(name, read.value);
    }
    return {
      pids: pids.length,
      found,
      paths,
      listings,
      links,
      uid: process.getuid(),
    };
  },
};
