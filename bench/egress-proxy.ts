/*
 * Latency the egress proxy adds to one request of a run. In this process: a
 * local HTTP upstream on 127.0.0.2 and the production EgressProxy (HMAC
 * credential check, allow-list, its own DNS step, private-address check with
 * the upstream allowed through allowPrivateCidrs, connect to the checked
 * address, forwarding), listening on a run's Unix socket. In a separate
 * client process: the runtime's own transport (packages/agent-runtime/src/
 * transport.js, what ctx.tools.http.fetch uses in the sandbox) against the
 * proxy, interleaved with the same request made directly with Node's fetch
 * (the bare HTTP round trip, the baseline). Sequential requests, after warm-up.
 *
 * Leaves out: DNS of a real name (the upstream is an IP literal), TLS (the
 * proxy originates it for https:// targets; that cost is the upstream's
 * handshake either way), the decision records in the run's logs (a database
 * write per request, off the request path) and the sandbox.
 *
 *   node --require ./node_modules/@backstage/cli/config/nodeTransform.cjs bench/egress-proxy.ts --requests 2000
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { EgressProxy } from '../plugins/infra-control-plane-backend/src/services/egress';

const arg = process.argv.indexOf('--requests');
const N = arg > 0 ? Number(process.argv[arg + 1]) : 2000;

const CLIENT = `
const { createTransport } = require(${JSON.stringify(
  path.resolve(__dirname, '../packages/agent-runtime/src/transport.js'),
)});
const transport = createTransport(process.env);
const url = process.env.BENCH_URL;
const n = Number(process.env.BENCH_N);
(async () => {
  const direct = [], proxied = [];
  for (let i = -200; i < n; i++) {
    let t = process.hrtime.bigint();
    const a = await fetch(url); await a.text();
    const d = Number(process.hrtime.bigint() - t) / 1e6;
    t = process.hrtime.bigint();
    const b = await transport.fetch(url); await b.text();
    const p = Number(process.hrtime.bigint() - t) / 1e6;
    if (a.status !== 200 || b.status !== 200) throw new Error('status ' + a.status + ' ' + b.status);
    if (i >= 0) { direct.push(d); proxied.push(p); }
  }
  process.stdout.write(JSON.stringify({ direct, proxied }));
})().catch(e => { console.error(e); process.exit(1); });
`;

const pct = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[
    Math.min(xs.length - 1, Math.floor(xs.length * q))
  ];

async function main() {
  const upstream = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
  await new Promise<void>(resolve => upstream.listen(0, '127.0.0.2', resolve));
  const port = (upstream.address() as AddressInfo).port;
  const proxy = new EgressProxy({
    key: randomBytes(32),
    allowPrivateCidrs: ['127.0.0.2/32'],
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-egress-'));
  const socket = path.join(dir, 'egress.sock');
  const listener = await proxy.listenUnix(socket, { executionId: 'bench' });
  const credential = proxy.issueCredential({
    executionId: 'bench',
    allowHosts: [`127.0.0.2:${port}`],
    expiresAt: Date.now() + 3600_000,
  });
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CLIENT], {
      env: {
        PATH: process.env.PATH,
        AGENT_EGRESS_PROXY: `unix:${socket}`,
        AGENT_EGRESS_CREDENTIAL: credential,
        BENCH_URL: `http://127.0.0.2:${port}/`,
        BENCH_N: String(N),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', d => (text += d));
    child.on('close', code =>
      code === 0 ? resolve(text) : reject(new Error(`client exited ${code}`)),
    );
  });
  await listener.close();
  upstream.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const { direct, proxied } = JSON.parse(out) as {
    direct: number[];
    proxied: number[];
  };
  const line = (name: string, xs: number[]) =>
    `${name}: p50 ${pct(xs, 0.5).toFixed(3)} ms, p90 ${pct(xs, 0.9).toFixed(
      3,
    )} ms, p99 ${pct(xs, 0.99).toFixed(3)} ms`;
  console.log(
    `node ${process.version}, ${
      os.cpus().length
    } cpus, ${N} sequential requests each (interleaved, 200 warm-up), client in its own process`,
  );
  console.log(line('direct fetch to the upstream (baseline)', direct));
  console.log(
    line('runtime transport through the egress proxy (Unix socket)', proxied),
  );
  console.log(
    `added by the proxy: p50 +${(pct(proxied, 0.5) - pct(direct, 0.5)).toFixed(
      3,
    )} ms, p99 +${(pct(proxied, 0.99) - pct(direct, 0.99)).toFixed(
      3,
    )} ms (ratio p50 ${(pct(proxied, 0.5) / pct(direct, 0.5)).toFixed(2)}x)`,
  );
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
