// Data Profiler: column statistics of a CSV or JSON dataset.
const { defineAgent } = require('@internal/agent-runtime');

function parseCsvLine(line) {
  const out = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function parse(format, data) {
  if (format === 'json') {
    const rows = JSON.parse(data);
    if (!Array.isArray(rows))
      throw new Error('JSON data must be an array of objects');
    return rows;
  }
  const lines = data.split(/\r?\n/).filter(l => l.trim() !== '');
  if (lines.length === 0) return [];
  const header = parseCsvLine(lines[0]);
  return lines.slice(1).map(l => {
    const cells = parseCsvLine(l);
    return Object.fromEntries(
      header.map((h, i) => [
        h,
        cells[i] === undefined || cells[i] === '' ? null : cells[i],
      ]),
    );
  });
}

function profile(rows) {
  const names = [...new Set(rows.flatMap(r => Object.keys(r)))];
  const columns = names.map(name => {
    const values = rows.map(r => r[name]);
    const present = values.filter(v => v !== null && v !== undefined);
    // Numbers and numeric strings count as numbers; booleans do not (Number(true) is 1).
    const numbers = present
      .filter(
        v =>
          typeof v === 'number' || (typeof v === 'string' && v.trim() !== ''),
      )
      .map(Number)
      .filter(n => Number.isFinite(n));
    const numeric = present.length > 0 && numbers.length === present.length;
    const col = {
      name,
      type: numeric
        ? 'number'
        : present.every(v => typeof v === 'boolean') && present.length
        ? 'boolean'
        : 'string',
      nulls: values.length - present.length,
      distinct: new Set(present.map(v => JSON.stringify(v))).size,
    };
    if (numeric) {
      col.min = Math.min(...numbers);
      col.max = Math.max(...numbers);
      col.mean = Number(
        (numbers.reduce((a, b) => a + b, 0) / numbers.length).toFixed(4),
      );
    }
    return col;
  });
  return { rows: rows.length, columns };
}

module.exports = defineAgent({
  async handler(input, ctx) {
    const rows = parse(input.format, input.data);
    ctx.log(`Parsed ${rows.length} rows of ${input.format}`);
    return profile(rows);
  },
});
