import {
  RUNTIME_EVENT_TAG as CONTRACT_TAG,
  RUNTIME_EXIT_CODES as CONTRACT_EXIT_CODES,
} from '@internal/plugin-agents-common';
import {
  RUNTIME_EVENT_TAG,
  RUNTIME_EXIT_CODES,
  parseRuntimeEventLine,
} from './index';

describe('wire format', () => {
  it('is the one of the layer contracts (the runtime cannot import them in its image)', () => {
    expect(RUNTIME_EVENT_TAG).toBe(CONTRACT_TAG);
    expect(RUNTIME_EXIT_CODES).toEqual(CONTRACT_EXIT_CODES);
  });

  it('parses runtime lines and ignores anything else', () => {
    expect(
      parseRuntimeEventLine(
        '{"tag":"agentplatform.runtime/v1","type":"progress","percent":5,"ts":"t"}',
      ),
    ).toEqual({ type: 'progress', percent: 5, ts: 't' });
    expect(
      parseRuntimeEventLine('{"tag":"other","type":"log"}'),
    ).toBeUndefined();
    expect(parseRuntimeEventLine('plain text')).toBeUndefined();
    expect(parseRuntimeEventLine('{broken')).toBeUndefined();
  });
});
