/*
 * Every example agent through the real plugin, in the default sandbox, with
 * its network tools going through the egress proxy: http to an allowed
 * upstream, llm to the configured endpoint, catalog to the portal's catalog
 * (its token added by the proxy, never seen by the agent). Then what the
 * proxy refuses, asked through the tool and past it.
 */
import http from 'node:http';
import { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import { mockCredentials } from '@backstage/backend-test-utils';
import Router from 'express-promise-router';
import { agentDir, makePlan } from './__testUtils__';
import { startLocalPlane } from './__testUtils__/localPlane';

jest.setTimeout(180_000);

/** The upstream "internet" host: loopback, allowed by the operator's allowPrivateCidrs. */
const UPSTREAM = '127.0.0.2';
const LLM_KEY = 'sk-test-llm-0123456789abcdef';

function listen(host: string, handler: http.RequestListener) {
  return new Promise<{ server: http.Server; port: number }>(resolve => {
    const server = http.createServer(handler);
    server.listen(0, host, () =>
      resolve({ server, port: (server.address() as AddressInfo).port }),
    );
  });
}

/** A catalog stand-in that answers only users (records who asked). */
function fakeCatalog(seen: string[]) {
  return createBackendPlugin({
    pluginId: 'catalog',
    register(env) {
      env.registerInit({
        deps: {
          httpRouter: coreServices.httpRouter,
          httpAuth: coreServices.httpAuth,
        },
        async init({ httpRouter, httpAuth }) {
          const router = Router();
          router.get('/entities/by-query', async (req, res) => {
            // As the catalog does: the caller's own identity decides.
            const credentials = await httpAuth.credentials(req, {
              allow: ['user'],
            });
            seen.push(credentials.principal.userEntityRef);
            res.json({
              items: [
                { kind: 'Component', metadata: { name: 'bare' }, spec: {} },
                {
                  kind: 'Agent',
                  metadata: { name: 'ok', description: 'fine' },
                  spec: { owner: 'team', lifecycle: 'production' },
                },
              ],
              pageInfo: {},
            });
          });
          httpRouter.use(router);
        },
      });
    },
  });
}

describe('example agents and egress in the local sandbox', () => {
  let plane: Awaited<ReturnType<typeof startLocalPlane>>;
  let portalPort: number;
  const catalogCallers: string[] = [];
  const llmAuth: string[] = [];
  let site: { server: http.Server; port: number };
  let llm: { server: http.Server; port: number };

  const finished = (plan: ReturnType<typeof makePlan>) => plane.run(plan);
  const logsOf = (id: string) => plane.logsOf(id);
  const example = (name: string, overrides: Parameters<typeof makePlan>[0]) =>
    makePlan({
      agentRef: `agent:default/${name}`,
      codeDir: agentDir(name),
      outputSchema: undefined,
      secrets: [],
      tools: [],
      ...overrides,
    });

  beforeAll(async () => {
    site = await listen(UPSTREAM, (req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, {
          location: `http://localhost:${portalPort}/api/infra-control-plane/health`,
        });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        '<html><head><title>Upstream</title></head><body>hello</body></html>',
      );
    });
    llm = await listen('127.0.0.1', (req, res) => {
      llmAuth.push(String(req.headers.authorization));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          choices: [{ message: { content: 'KWOK fakes kubelets.' } }],
        }),
      );
    });
    plane = await startLocalPlane({
      features: [fakeCatalog(catalogCallers)],
      infraControlPlane: {
        secrets: { 'llm-key': LLM_KEY },
        runtime: {
          llmBaseUrl: `http://127.0.0.1:${llm.port}/v1`,
          llmModel: 'test-model',
        },
        egress: { allowPrivateCidrs: [`${UPSTREAM}/32`] },
      },
    });
    portalPort = plane.port;
  });

  afterAll(async () => {
    await plane?.stop();
    site?.server.close();
    llm?.server.close();
  });

  it('runs the agents without network tools to their expected results', async () => {
    const summarizer = await finished(example('summarizer', {}));
    expect(summarizer).toMatchObject({
      state: 'succeeded',
      result: { sentences: 2 },
    });

    const profiler = await finished(
      example('data-profiler', {
        input: { format: 'csv', data: 'a,b\n1,x\n2,\n' },
      }),
    );
    expect(profiler.state).toBe('succeeded');
    expect(JSON.stringify(profiler.result)).toContain('"rows":2');

    const sentiment = await finished(
      example('sentiment-preview', {
        input: { text: 'I love this, it is great' },
      }),
    );
    expect(sentiment.state).toBe('succeeded');

    const counter = await finished(
      example('slow-counter', { input: { steps: 3, intervalMs: 10 } }),
    );
    expect(counter.state).toBe('succeeded');

    const fails = await finished(example('always-fails', { input: {} }));
    expect(fails).toMatchObject({ state: 'failed', exitReason: 'agent-error' });
  });

  it('http-fetcher reaches an allowed host through the proxy, and the proxy records it', async () => {
    const plan = example('http-fetcher', {
      input: { url: `http://${UPSTREAM}:${site.port}/` },
      tools: [{ name: 'http', allowHosts: [`${UPSTREAM}:${site.port}`] }],
    });
    const done = await finished(plan);
    expect(done).toMatchObject({
      state: 'succeeded',
      result: { status: 200, contentType: 'text/html', title: 'Upstream' },
    });
    const logs = await logsOf(plan.executionId);
    expect(logs.join('\n')).toContain(
      `egress proxy: allowed GET ${UPSTREAM}:${site.port} via ${UPSTREAM}`,
    );
  });

  it('llm-assistant reaches the configured model endpoint through its platform route', async () => {
    const done = await finished(
      example('llm-assistant', {
        input: { question: 'What is KWOK?' },
        tools: [{ name: 'llm' }],
        secrets: [
          { name: 'OPENAI_API_KEY', source: 'platform', ref: 'llm-key' },
        ],
      }),
    );
    expect(done.state).toBe('succeeded');
    expect(JSON.stringify(done.result)).toContain('KWOK fakes kubelets.');
    expect(llmAuth).toContain(`Bearer ${LLM_KEY}`);
  });

  it('catalog-health reads the catalog as its requester, through the proxy, with a token it never holds', async () => {
    const plan = example('catalog-health', {
      input: { kinds: ['Component', 'Agent'] },
      tools: [{ name: 'catalog' }],
    });
    plane.pcp.catalogTokens.set(
      plan.executionId,
      mockCredentials.user.token('user:default/grace'),
    );
    const done = await finished(plan);
    expect(done).toMatchObject({ state: 'succeeded', result: { checked: 2 } });
    expect(catalogCallers).toEqual(['user:default/grace']);

    const raw = makePlan({
      agentRef: 'agent:default/attack-egress-raw',
      codeDir: path.join(__dirname, '__fixtures__/attacks/egress-raw'),
      outputSchema: undefined,
      secrets: [],
      tools: [{ name: 'catalog' }],
      input: {
        targets: ['http://catalog.platform.internal/entities/by-query'],
      },
    });
    plane.pcp.catalogTokens.set(
      raw.executionId,
      mockCredentials.user.token('user:default/grace'),
    );
    const rawDone = await finished(raw);
    expect(rawDone.state).toBe('succeeded');
    expect((rawDone.result as any).catalogTokenInEnv).toBe(false);
    expect(
      (rawDone.result as any).results[
        'http://catalog.platform.internal/entities/by-query'
      ],
    ).toMatchObject({ status: 200 });
  });

  it('gives a run without a requester token no catalog access at all', async () => {
    const before = catalogCallers.length;
    const done = await finished(
      example('catalog-health', {
        input: { kinds: ['Component'] },
        tools: [{ name: 'catalog' }],
      }),
    );
    expect(done).toMatchObject({ state: 'failed', exitReason: 'tool-denied' });
    expect(done.message).toMatch(/this run has no catalog access/);
    expect(catalogCallers.length).toBe(before);
  });

  it('refuses, and records as tool-denied: a host not on the list, a name resolving to loopback, another port, an ungranted route, a redirect to a private address', async () => {
    const plan = makePlan({
      agentRef: 'agent:default/attack-egress-raw',
      codeDir: path.join(__dirname, '__fixtures__/attacks/egress-raw'),
      outputSchema: undefined,
      secrets: [],
      tools: [
        {
          name: 'http',
          allowHosts: [`${UPSTREAM}:${site.port}`, `localhost:${portalPort}`],
        },
      ],
      input: {
        targets: [
          `http://127.0.0.3:${site.port}/`,
          `http://localhost:${portalPort}/api/infra-control-plane/health`,
          `http://${UPSTREAM}:${
            site.port + 1 === portalPort ? site.port + 2 : site.port + 1
          }/`,
          `http://catalog.platform.internal/entities/by-query`,
        ],
      },
    });
    const done = await finished(plan);
    expect(done.state).toBe('succeeded');
    const results = (done.result as any).results;
    const [notListed, loopbackName, otherPort, route] = plan.input
      .targets as string[];
    expect(results[notListed]).toMatchObject({
      status: 403,
      refused: 'host-not-allowed',
    });
    expect(results[loopbackName]).toMatchObject({
      status: 403,
      refused: 'private-address',
    });
    expect(results[otherPort]).toMatchObject({
      status: 403,
      refused: 'port-not-allowed',
    });
    expect(results[route]).toMatchObject({
      status: 403,
      refused: 'platform-route-not-granted',
    });
    const logs = (await logsOf(plan.executionId)).join('\n');
    expect(logs).toContain(
      'tool denied: http: egress proxy refused GET 127.0.0.3',
    );
    expect(logs).toContain('[private-address]');

    // Through the tool: an allowed host redirecting to the portal on loopback.
    const redirected = example('http-fetcher', {
      input: { url: `http://${UPSTREAM}:${site.port}/redirect` },
      tools: [
        {
          name: 'http',
          allowHosts: [`${UPSTREAM}:${site.port}`, `localhost:${portalPort}`],
        },
      ],
    });
    const end = await finished(redirected);
    expect(end).toMatchObject({ state: 'failed', exitReason: 'tool-denied' });
    expect((await logsOf(redirected.executionId)).join('\n')).toMatch(
      /private-address/,
    );
  });
});
