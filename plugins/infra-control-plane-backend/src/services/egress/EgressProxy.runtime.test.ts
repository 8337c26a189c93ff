import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EgressProxy } from './EgressProxy';
import { egressGrantForPlan } from './grants';
import { platformOrigin } from './platformRoutes';
import { RUNTIME_PATH, makePlan } from '../../__testUtils__';
import {
  TestCert,
  TestServer,
  UPSTREAM_IP,
  decisionLog,
  makeCert,
  startHttpServer,
  startHttpsServer,
  tableLookup,
} from './__testUtils__/servers';

jest.setTimeout(60_000);

/** Runs the real runtime binary with `env` on the agent in `dir`; its events. */
function runRuntime(dir: string, env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; events: any[] }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, [RUNTIME_PATH, 'run', dir], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', HOME: dir, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.on('data', c => (stdout += c));
      child.on('error', reject);
      child.on('close', code =>
        resolve({
          code,
          stdout,
          events: stdout
            .split('\n')
            .filter(Boolean)
            .map(l => JSON.parse(l)),
        }),
      );
    },
  );
}

describe('the agent runtime through the real egress proxy', () => {
  const log = decisionLog();
  let cert: TestCert;
  let api: TestServer;
  let catalog: TestServer;
  let proxy: EgressProxy;
  let dir: string;

  beforeAll(async () => {
    cert = makeCert(['api.test']);
    api = await startHttpsServer(cert);
    catalog = await startHttpServer({ host: '127.0.0.1' });
    proxy = new EgressProxy({
      key: randomBytes(32),
      lookup: tableLookup({
        'api.test': [UPSTREAM_IP],
        localhost: ['127.0.0.1'],
      }).lookup,
      allowPrivateCidrs: [`${UPSTREAM_IP}/32`],
      upstreamCa: cert.cert,
      onDecision: log.onDecision,
      platformRoutes: {
        catalog: {
          target: `http://127.0.0.1:${catalog.port}/api/catalog`,
          methods: ['GET'],
          headers: id => ({ authorization: `Bearer catalog-token-of-${id}` }),
        },
      },
    });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egress-e2e-'));
  });

  afterAll(async () => {
    await proxy.close();
    await Promise.all([api.close(), catalog.close()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lets through what the grant allows, reports what it refuses as tool-denied, injects the catalog token', async () => {
    const plan = makePlan({
      tools: [
        { name: 'http', allowHosts: ['api.test', 'localhost'] },
        { name: 'catalog' },
      ],
    });
    const grant = { ...egressGrantForPlan(plan), ports: [api.port, 443] };
    const socketPath = path.join(dir, 'egress.sock');
    const listener = await proxy.listenUnix(socketPath, {
      executionId: plan.executionId,
    });
    const agent = path.join(dir, 'agent');
    fs.mkdirSync(agent);
    fs.writeFileSync(
      path.join(agent, 'index.js'),
      `module.exports = { async handler(input, ctx) {
        const data = await ctx.tools.http.getJson('https://api.test:${api.port}/data');
        let local;
        try { await ctx.tools.http.fetch('http://localhost:${api.port}/admin'); } catch (e) { local = e.name + ': ' + e.message; }
        const team = await ctx.tools.catalog.getEntityByRef('group:default/team');
        return { data: data.url, local, catalog: team.url, auth: team.headers.authorization };
      } };`,
    );
    try {
      const run = await runRuntime(agent, {
        AGENT_EXECUTION_ID: plan.executionId,
        AGENT_TOOLS: JSON.stringify(plan.tools),
        AGENT_EGRESS_PROXY: `unix:${socketPath}`,
        AGENT_EGRESS_CREDENTIAL: proxy.issueCredential(grant),
        AGENT_CATALOG_BASE_URL: platformOrigin('catalog'),
      });
      expect(run.events[run.events.length - 1]).toMatchObject({
        type: 'result',
        result: {
          data: '/data',
          local: expect.stringMatching(
            /^ToolDeniedError: http: egress proxy refused the request \(private-address\): "localhost" resolves to/,
          ),
          catalog: '/api/catalog/entities/by-name/group/default/team',
          auth: `Bearer catalog-token-of-${plan.executionId}`,
        },
      });
      expect(run.events.filter(e => e.type === 'tool-denied')).toEqual([
        expect.objectContaining({
          tool: 'http',
          message: expect.stringContaining('(private-address)'),
        }),
      ]);
      expect(
        log.decisions.map(d => [
          d.executionId,
          d.host,
          d.allowed,
          d.reason ?? d.route ?? d.address,
        ]),
      ).toEqual([
        [plan.executionId, 'api.test', true, UPSTREAM_IP],
        [plan.executionId, 'localhost', false, 'private-address'],
        [plan.executionId, 'catalog.platform.internal', true, 'catalog'],
      ]);
    } finally {
      await listener.close();
    }
  });
});
