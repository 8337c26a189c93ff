import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import { createMockActionContext } from '@backstage/plugin-scaffolder-node-test-utils';
import yaml from 'yaml';
import { createAgentRunAction } from './agentRun';
import { examples } from './agentRun.examples';

/** A fake product control plane API: records calls, answers like the real one. */
function fakeProductControlPlane(finalState: string, extra: Record<string, unknown> = {}) {
  const calls: Array<{ url: string; method: string; headers: Record<string, string>; body?: any }> = [];
  let polls = 0;
  const fetchFn = (async (url: string, init: any = {}) => {
    calls.push({
      url,
      method: init.method ?? 'GET',
      headers: init.headers ?? {},
      body: init.body ? JSON.parse(init.body) : undefined,
    });
    if (init.method === 'POST') {
      return new Response(JSON.stringify({ id: 'exec-1', state: 'queued' }), { status: 202 });
    }
    polls += 1;
    const state = polls < 2 ? 'running' : finalState;
    return new Response(JSON.stringify({ id: 'exec-1', state, ...(polls < 2 ? {} : extra) }), { status: 200 });
  }) as any;
  return { fetchFn, calls };
}

/** createMockActionContext keeps only input/task/etc; add the rest on top. */
function makeContext(input: any, extra: Record<string, unknown> = {}) {
  return { ...createMockActionContext({ input }), ...extra } as any;
}

describe('agent:run', () => {
  const auth = mockServices.auth();
  const discovery = mockServices.discovery();
  const user = mockCredentials.user('user:default/ada');

  it('runs through the product control plane as the initiating user and outputs id and result', async () => {
    const pcp = fakeProductControlPlane('succeeded', { result: { summary: 'short' } });
    const action = createAgentRunAction({ auth, discovery, fetchFn: pcp.fetchFn, pollIntervalMs: 1 });
    const ctx = makeContext({ agentRef: 'agent:default/summarizer', input: { text: 'Hello. World.' }, plan: 'free' }, { getInitiatorCredentials: async () => user });
    await action.handler(ctx);

    const post = pcp.calls[0];
    expect(post.method).toBe('POST');
    expect(post.url).toMatch(/\/api\/product-control-plane\/executions$/);
    expect(post.body).toEqual({
      agentRef: 'agent:default/summarizer',
      input: { text: 'Hello. World.' },
      plan: 'free',
      mode: 'async',
    });
    // An on-behalf-of token of the user, for the product control plane.
    const token = post.headers.authorization.replace(/^Bearer /, '');
    expect(JSON.parse(token.replace(/^mock-user-token:|^mock-limited-user-token:|^mock-service-token:/, ''))).toMatchObject({
      obo: 'user:default/ada',
      target: 'product-control-plane',
    });
    expect(post.headers['idempotency-key']).toMatch(/^scaffolder:/);
    expect(ctx.output).toHaveBeenCalledWith('executionId', 'exec-1');
    expect(ctx.output).toHaveBeenCalledWith('state', 'succeeded');
    expect(ctx.output).toHaveBeenCalledWith('result', { summary: 'short' });
  });

  it('fails the step when the run does not succeed, naming the reason', async () => {
    const pcp = fakeProductControlPlane('failed', { exitReason: 'agent-error', message: 'boom' });
    const action = createAgentRunAction({ auth, discovery, fetchFn: pcp.fetchFn, pollIntervalMs: 1 });
    const ctx = makeContext({ agentRef: 'agent:default/always-fails', input: {} }, { getInitiatorCredentials: async () => user });
    await expect(action.handler(ctx)).rejects.toThrow('ended failed (agent-error): boom');
    expect(ctx.output).toHaveBeenCalledWith('executionId', 'exec-1');
  });

  it('surfaces a refusal of the product control plane (e.g. not entitled)', async () => {
    const fetchFn = (async () =>
      new Response(JSON.stringify({
          error: { name: 'NotAllowedError', message: 'not entitled to agent:default/x' },
          request: { method: 'POST', url: '/api/product-control-plane/executions' },
          response: { statusCode: 403 },
        }), {
        status: 403,
        statusText: 'Forbidden',
        headers: { 'content-type': 'application/json' },
      })) as any;
    const action = createAgentRunAction({ auth, discovery, fetchFn });
    const ctx = makeContext({ agentRef: 'agent:default/x', input: {} }, { getInitiatorCredentials: async () => user });
    await expect(action.handler(ctx)).rejects.toThrow(/not entitled/);
  });

  it('does not call anything in dry run', async () => {
    const pcp = fakeProductControlPlane('succeeded');
    const action = createAgentRunAction({ auth, discovery, fetchFn: pcp.fetchFn });
    const ctx = makeContext({ agentRef: 'agent:default/summarizer', input: { text: 'x' } }, { isDryRun: true });
    await action.handler(ctx);
    expect(pcp.calls).toHaveLength(0);
    expect(ctx.output).toHaveBeenCalledWith('state', 'dry-run');
  });

  it('has examples that are valid input for the action', async () => {
    const action = createAgentRunAction({ auth, discovery });
    expect(action.examples?.length).toBeGreaterThan(0);
    for (const example of examples) {
      const step = yaml.parse(example.example).steps[0];
      expect(step.action).toBe('agent:run');
      const pcp = fakeProductControlPlane('succeeded', { result: {} });
      const runner = createAgentRunAction({ auth, discovery, fetchFn: pcp.fetchFn, pollIntervalMs: 1 });
      const ctx = makeContext(step.input, { getInitiatorCredentials: async () => user });
      await runner.handler(ctx);
      expect(pcp.calls[0].body.agentRef).toBe(step.input.agentRef);
    }
  });
});
