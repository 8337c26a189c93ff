'use strict';

const REDACTED = '[REDACTED]';

/**
 * Replaces every known secret value in strings, deeply, before anything is
 * printed. Works on values (not on the serialized line) so that a secret made
 * of JSON punctuation can never break the wire format.
 */
class Redactor {
  constructor(values = []) {
    this.values = [];
    for (const v of values) this.add(v);
  }

  add(value) {
    if (typeof value !== 'string') return;
    const candidates = [value, value.trim()];
    // Also the forms a secret takes once JSON- or URL-encoded inside a string.
    candidates.push(JSON.stringify(value).slice(1, -1));
    try {
      candidates.push(encodeURIComponent(value));
    } catch {
      // lone surrogates: nothing to add
    }
    candidates.push(Buffer.from(value).toString('base64'));
    for (const c of candidates) {
      if (c && !this.values.includes(c)) this.values.push(c);
    }
    // Longest first, so a secret containing another is replaced whole.
    this.values.sort((a, b) => b.length - a.length);
  }

  string(s) {
    let out = String(s);
    for (const v of this.values) {
      if (out.includes(v)) out = out.split(v).join(REDACTED);
    }
    return out;
  }

  value(v, seen = new WeakSet()) {
    if (typeof v === 'string') return this.string(v);
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return v;
    seen.add(v);
    if (Array.isArray(v)) return v.map(x => this.value(x, seen));
    const out = {};
    for (const [k, x] of Object.entries(v))
      out[this.string(k)] = this.value(x, seen);
    return out;
  }
}

module.exports = { Redactor, REDACTED };
