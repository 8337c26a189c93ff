// Sentiment Analyzer: lexicon-based scoring, no network.
const { defineAgent } = require('@internal/agent-runtime');

const POSITIVE = new Set([
  'good',
  'great',
  'excellent',
  'love',
  'happy',
  'fast',
  'nice',
  'wonderful',
  'best',
  'like',
]);
const NEGATIVE = new Set([
  'bad',
  'terrible',
  'awful',
  'hate',
  'sad',
  'slow',
  'broken',
  'worst',
  'bug',
  'fail',
]);

function score(text) {
  const ws = text.toLowerCase().match(/[a-z']+/g) || [];
  const s = ws.reduce(
    (n, w) => n + (POSITIVE.has(w) ? 1 : NEGATIVE.has(w) ? -1 : 0),
    0,
  );
  return ws.length ? s / Math.sqrt(ws.length) : 0;
}

module.exports = defineAgent({
  async handler(input) {
    const s = Number(score(input.text).toFixed(3));
    return {
      score: s,
      label: s > 0.1 ? 'positive' : s < -0.1 ? 'negative' : 'neutral',
    };
  },
});
