/*
 * Hostile agents run through the real local executor in its default
 * bubblewrap sandbox (the plugin started as in production, SQLite). Each
 * attack must fail, and the run must end in a clear state.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { REPO_ROOT, makePlan, updatesOf, waitFor } from './__testUtils__';
import { startLocalPlane } from './__testUtils__/localPlane';

jest.setTimeout(180_000);

const attackDir = (name: string) =>
  path.join(__dirname, '__fixtures__/attacks', name);

// Something only the portal's process has: its environment and a data file.
const PORTAL_MARKER = `portal-marker-${process.pid}-${Date.now()}`;
const VICTIM_SECRET = `victim-secret-${Date.now()}-0123456789`;
const VICTIM_INPUT = `victim-input-${Date.now()}`;
/** A marker as the snoop agent takes it: in two halves. */
const halves = (marker: string) => [marker.slice(0, 8), marker.slice(8)];

describe('hostile agents in the local sandbox', () => {
  let plane: Awaited<ReturnType<typeof startLocalPlane>>;
  let dataDir: string;

  const start = (plan: ReturnType<typeof makePlan>) => plane.start(plan);
  const finished = (id: string) => plane.finished(id);
  const run = async (name: string, input: object, overrides: object = {}) =>
    plane.run(
      makePlan({
        agentRef: `agent:default/attack-${name}`,
        codeDir: attackDir(name),
        input: input as any,
        outputSchema: undefined,
        tools: [],
        secrets: [],
        ...overrides,
      }),
    );
  const hostProcessesWith = (marker: string) =>
    fs
      .readdirSync('/proc')
      .filter(p => /^\d+$/.test(p))
      .filter(p => {
        try {
          return fs
            .readFileSync(`/proc/${p}/cmdline`, 'latin1')
            .includes(marker);
        } catch {
          return false;
        }
      });

  beforeAll(async () => {
    process.env.PORTAL_MARKER = PORTAL_MARKER;
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portal-data-'));
    fs.writeFileSync(path.join(dataDir, 'user-secrets.key'), PORTAL_MARKER);
    plane = await startLocalPlane({
      infraControlPlane: { secrets: { 'victim-secret': VICTIM_SECRET } },
    });
  });

  afterAll(async () => {
    await plane?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    delete process.env.PORTAL_MARKER;
  });

  it('reports the sandbox in /health', async () => {
    const health = await request(plane.server).get(
      '/api/infra-control-plane/health',
    );
    expect(health.status).toBe(200);
    expect(JSON.stringify(health.body)).toContain('bubblewrap sandbox');
  });

  it("cannot read the portal's environment, its data files, or another concurrent run's secrets and input", async () => {
    const victim = await start(
      makePlan({
        agentRef: 'agent:default/victim',
        codeDir: attackDir('victim'),
        input: { holdMs: 6000, note: VICTIM_INPUT },
        outputSchema: undefined,
        tools: [],
        secrets: [
          { name: 'VICTIM_SECRET', source: 'platform', ref: 'victim-secret' },
        ],
      }),
    );
    await waitFor(
      () =>
        updatesOf(plane.pcp.received, victim).find(u => u.state === 'running'),
      'the victim running',
    );
    const runDirs = fs
      .readdirSync(os.tmpdir())
      .filter(n => n.startsWith('agent-run-'))
      .map(n => path.join(os.tmpdir(), n));
    expect(runDirs.length).toBeGreaterThan(0);
    const done = await run('snoop', {
      markers: [PORTAL_MARKER, VICTIM_SECRET, VICTIM_INPUT].map(halves),
      paths: [
        dataDir,
        path.join(dataDir, 'user-secrets.key'),
        path.join(REPO_ROOT, '.data'),
        ...runDirs,
        ...runDirs.map(d => path.join(d, 'secrets', 'VICTIM_SECRET')),
        '/etc/shadow',
        '/root',
        `/proc/${process.pid}/environ`,
      ],
    });
    expect(done.state).toBe('succeeded');
    const result = done.result as any;
    expect(result.found).toEqual([]);
    for (const [p, seen] of Object.entries(result.paths)) {
      expect([p, seen]).toEqual([p, 'ENOENT']);
    }
    // The folders above its read-only mounts hold nothing but those mounts.
    const listings = (
      await run('snoop', { paths: [REPO_ROOT, os.tmpdir(), '/'] })
    ).result as any;
    for (const name of ['.data', 'catalog', 'app-config.yaml', 'plugins']) {
      expect(listings.listings[REPO_ROOT]).not.toContain(name);
    }
    // Its scratch is its own: no run folder or data of the host's /tmp.
    expect(
      listings.listings[os.tmpdir()].filter((n: string) =>
        /^(agent-run-|portal-data-|agent-links-)/.test(n),
      ),
    ).toEqual([]);
    for (const name of ['etc', 'root', 'home', 'var', 'sys', 'usr']) {
      expect(listings.listings['/']).not.toContain(name);
    }
    // Its own PID namespace: bubblewrap's init and the runtime, nothing else.
    expect(result.pids).toBeLessThanOrEqual(3);
    expect(result.uid).not.toBe(0);
    expect((await finished(victim)).state).toBe('succeeded');
  });

  it('cannot follow symlinks in its own folder to files outside', async () => {
    const agent = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-links-'));
    fs.chmodSync(agent, 0o755);
    fs.copyFileSync(
      path.join(attackDir('snoop'), 'index.js'),
      path.join(agent, 'index.js'),
    );
    fs.symlinkSync(
      path.join(dataDir, 'user-secrets.key'),
      path.join(agent, 'key'),
    );
    fs.symlinkSync('/proc/1/environ', path.join(agent, 'init-environ'));
    fs.symlinkSync(
      '../../../../../../../../etc/shadow',
      path.join(agent, 'shadow'),
    );
    try {
      const done = await run(
        'snoop',
        { markers: [halves(PORTAL_MARKER)] },
        { codeDir: agent },
      );
      expect(done.state).toBe('succeeded');
      const { links, found } = done.result as any;
      expect(found).toEqual([]);
      expect(links.key).toBe('ENOENT');
      expect(links.shadow).toBe('ENOENT');
    } finally {
      fs.rmSync(agent, { recursive: true, force: true });
    }
  });

  it('can write only in its scratch folder', async () => {
    const outside = path.join(dataDir, 'planted');
    const done = await run('write-outside', {
      targets: [outside, path.join(REPO_ROOT, 'planted')],
    });
    expect(done.state).toBe('succeeded');
    const result = done.result as any;
    expect(result.scratch).toBe('scratch is fine');
    for (const [target, outcome] of Object.entries(result.writes)) {
      // The sandbox's /tmp is its scratch, where the parent folders of
      // read-only mounts below /tmp (a checkout under /tmp) are created: a
      // write there stays in the run (the host side is checked below).
      if (target.startsWith('/tmp/')) continue;
      expect([target, outcome]).not.toEqual([target, 'written']);
    }
    expect(fs.existsSync(outside)).toBe(false);
    expect(fs.existsSync(path.join(REPO_ROOT, 'planted'))).toBe(false);
  });

  it('leaves no process behind after it exits', async () => {
    const marker = `leftover-${Date.now()}`;
    const done = await run('leave-behind', { marker });
    expect(done).toMatchObject({
      state: 'succeeded',
      result: { spawned: true },
    });
    await waitFor(
      () => hostProcessesWith(marker).length === 0,
      'no leftover process',
      5000,
    );
  });

  it('has no network: not the portal on loopback, not an outside address, no DNS', async () => {
    const done = await run('network', {
      targets: [
        ['127.0.0.1', plane.port],
        ['10.96.0.1', 443],
        ['1.1.1.1', 443],
      ],
      name: 'example.com',
      url: `http://127.0.0.1:${plane.port}/api/infra-control-plane/health`,
    });
    expect(done.state).toBe('succeeded');
    const result = done.result as any;
    expect(result[`127.0.0.1:${plane.port}`]).toBe('ECONNREFUSED');
    expect(result['10.96.0.1:443']).toBe('ENETUNREACH');
    expect(result['1.1.1.1:443']).toBe('ENETUNREACH');
    expect(result.dns).not.toBe('resolved');
    expect(result.fetch).toBe('ECONNREFUSED');
  });

  it('stops a fork bomb at the process limit, and nothing of it survives the run', async () => {
    const done = await run(
      'fork-bomb',
      {},
      {
        resources: { cpu: '1', memory: '2Gi', timeoutSeconds: 60 },
      },
    );
    expect(done.state).toBe('succeeded');
    const result = done.result as any;
    expect(result.refusal).toBe('EAGAIN');
    expect(result.started).toBeLessThan(64);
  });

  it('ends a memory bomb as failed with reason out-of-memory', async () => {
    const done = await run(
      'memory-bomb',
      {},
      {
        resources: { cpu: '1', memory: '128Mi', timeoutSeconds: 60 },
      },
    );
    expect(done).toMatchObject({
      state: 'failed',
      exitReason: 'out-of-memory',
    });
    expect(done.message).toContain('memory limit of 128Mi');
  });

  it('ends a busy loop that ignores SIGTERM as timed_out', async () => {
    const done = await run(
      'busy-ignores-term',
      {},
      {
        resources: { cpu: '1', memory: '128Mi', timeoutSeconds: 1 },
      },
    );
    expect(done).toMatchObject({
      state: 'timed_out',
      exitReason: 'deadline-exceeded',
    });
  });
});
