'use strict';
/*
 * The wire format (mirrors plugins/agents-common/src/contracts.ts, which this
 * container-side package cannot import): one JSON RuntimeEvent per stdout line.
 */
const RUNTIME_EVENT_TAG = 'agentplatform.runtime/v1';

const RUNTIME_EXIT_CODES = Object.freeze({
  success: 0,
  'agent-error': 1,
  'invalid-input': 2,
  'invalid-output': 3,
  'result-too-large': 4,
  'load-error': 5,
  'secret-missing': 6,
  'tool-denied': 7,
  timeout: 124,
});

/** Parses one stdout line; returns the event (without the tag) or undefined for other lines. */
function parseRuntimeEventLine(line) {
  const s = String(line).trim();
  if (!s.startsWith('{')) return undefined;
  let obj;
  try {
    obj = JSON.parse(s);
  } catch {
    return undefined;
  }
  if (!obj || obj.tag !== RUNTIME_EVENT_TAG || typeof obj.type !== 'string')
    return undefined;
  const { tag, ...event } = obj;
  return event;
}

module.exports = {
  RUNTIME_EVENT_TAG,
  RUNTIME_EXIT_CODES,
  parseRuntimeEventLine,
};
