// Text Summarizer: extractive summarization, no network.
const { defineAgent } = require('@internal/agent-runtime');

const STOP = new Set(
  'a an and are as at be but by for from has have he her his i in is it its of on or she that the their them they this to was were will with you your'.split(
    ' ',
  ),
);

function splitSentences(text) {
  return text
    .replace(/\s+/g, ' ')
    .split(/(?<=[.!?])\s+(?=[A-Z0-9"'])/)
    .map(s => s.trim())
    .filter(Boolean);
}

function words(s) {
  return (s.toLowerCase().match(/[a-z0-9']+/g) || []).filter(w => !STOP.has(w));
}

/** Ranks sentences by summed word frequency and keeps the top `count` in text order. */
function summarize(text, count) {
  const sentences = splitSentences(text);
  if (sentences.length <= count) return sentences;
  const freq = new Map();
  for (const w of words(text)) freq.set(w, (freq.get(w) || 0) + 1);
  const scored = sentences.map((s, index) => {
    const ws = words(s);
    const score =
      ws.reduce((n, w) => n + (freq.get(w) || 0), 0) / Math.max(ws.length, 1);
    return { s, index, score };
  });
  return scored
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, count)
    .sort((a, b) => a.index - b.index)
    .map(x => x.s);
}

module.exports = defineAgent({
  async handler(input, ctx) {
    const count = input.sentences ?? 3;
    ctx.log(
      `Summarizing ${input.text.length} characters into ${count} sentences`,
    );
    const kept = summarize(input.text, count);
    return { summary: kept.join(' '), sentences: kept.length };
  },
});
