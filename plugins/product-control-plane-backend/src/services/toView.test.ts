import { ExecutionView } from '@internal/plugin-agents-common';
import { ExecutionRecord } from '../database/ExecutionStore';
import { RecordView, toView } from './executionView';

/** Every key of the API shape, once: the compiler refuses a missing or extra one. */
const apiKeys: Record<keyof ExecutionView, true> = {
  id: true,
  agentRef: true,
  agentVersion: true,
  userRef: true,
  holderRef: true,
  ownerRef: true,
  plan: true,
  state: true,
  mode: true,
  attempt: true,
  retryOf: true,
  idempotencyKey: true,
  input: true,
  resources: true,
  tools: true,
  secrets: true,
  image: true,
  entrypoint: true,
  outputSchema: true,
  createdAt: true,
  updatedAt: true,
  dispatchedAt: true,
  startedAt: true,
  finishedAt: true,
  cancelRequestedAt: true,
  cancelRequestedBy: true,
  durationMs: true,
  computeSeconds: true,
  cost: true,
  exitReason: true,
  exitCode: true,
  message: true,
  result: true,
  resultTruncated: true,
};
// And the same for what toView builds from a record.
const recordViewKeys: Record<keyof RecordView, true> = apiKeys;

/** A record with every optional field set. */
const record: ExecutionRecord = {
  id: 'e1',
  agentRef: 'agent:default/a',
  agentVersion: '1.0.0',
  userRef: 'user:default/u',
  holderRef: 'group:default/t',
  ownerRef: 'group:default/o',
  entitlementId: 'ent-1',
  plan: { name: 'free', pricing: 'free' },
  state: 'succeeded',
  mode: 'async',
  attempt: 1,
  retryOf: 'e0',
  idempotencyKey: 'k',
  requestHash: 'h',
  input: { text: 'a' },
  resources: { cpu: '500m', memory: '256Mi', timeoutSeconds: 60 },
  tools: [{ name: 'http', allowHosts: ['a.example.com'] }],
  secrets: [{ name: 'S', source: 'user', ref: 'user:secret-id' }],
  image: 'img',
  entrypoint: 'index.js',
  codeDir: '/srv/agents/a',
  outputSchema: { type: 'object' },
  day: '2026-01-01',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:02.000Z',
  dispatchedAt: '2026-01-01T00:00:00.500Z',
  startedAt: '2026-01-01T00:00:01.000Z',
  finishedAt: '2026-01-01T00:00:02.000Z',
  cancelRequestedAt: '2026-01-01T00:00:01.500Z',
  cancelRequestedBy: 'user:default/u',
  durationMs: 1000,
  computeSeconds: 1,
  cost: 0,
  exitReason: 'completed',
  exitCode: 0,
  message: 'ok',
  result: { ok: true },
  resultTruncated: false,
};

describe('toView', () => {
  it('serializes exactly the ExecutionView declared in agents-common', () => {
    const json = JSON.parse(JSON.stringify(toView(record)));
    expect(Object.keys(json).sort()).toEqual(Object.keys(apiKeys).sort());
    expect(Object.keys(recordViewKeys).sort()).toEqual(
      Object.keys(apiKeys).sort(),
    );
  });

  it('leaves out secret refs and internals', () => {
    const json = JSON.stringify(toView(record));
    for (const hidden of ['user:secret-id', 'ent-1', '/srv/agents/a']) {
      expect(json).not.toContain(hidden);
    }
    expect(toView(record)).toMatchObject({
      plan: 'free',
      secrets: [{ name: 'S', source: 'user' }],
    });
  });
});
