/*
 * Admission throughput of the product control plane through the full HTTP
 * path: a real HTTP server, Backstage auth middleware (mock user tokens),
 * the zod-validated route, the catalog lookup, the entitlement check over
 * HTTP to a stand-in marketplace plugin, input validation, policy counters
 * and the record + audit event + outbox row in one locked transaction; the
 * outbox then dispatches to a stand-in infra plugin, as in production.
 *
 * Prints requests/s and p50/p99 latency of `POST /executions` (async) on
 * SQLite (in memory) and PostgreSQL (a fresh database on the server from
 * BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING, skipped if unset).
 *
 * Run from the repo root (after `. scripts/toolchain.sh` and
 * `eval "$(bash scripts/postgres.sh)"`):
 *   node --require ./node_modules/@backstage/cli/config/nodeTransform.cjs bench/admission.ts --requests 1000 --concurrency 20
 */
import os from 'node:os';
import knexFactory, { Knex } from 'knex';
import request from 'supertest';
import {
  agent,
  createFakes,
  startPlugin,
  userHeader,
} from '../plugins/product-control-plane-backend/src/__testUtils__/harness';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const REQUESTS = arg('requests', 1000);
const CONCURRENCY = arg('concurrency', 20);
const WARMUP = 50;

const entities = [
  agent('bench', {
    plans: [
      // Limits high enough to admit everything, so every request runs the
      // full policy (concurrency and quota counts) and writes a record.
      { name: 'team', pricing: 'per-run', price: 0.01, concurrency: 1e6, runsPerDay: 1e6 },
    ],
  }),
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(label: string, knex: Knex) {
  const fakes = createFakes(entities);
  const { server } = await startPlugin({
    knex,
    entities,
    fakes,
    config: {
      policy: { defaultAgentConcurrency: 1e6, userConcurrency: 1e6 },
      dispatcher: { intervalSeconds: 3600 },
    },
  });
  const headers = Array.from({ length: 50 }, (_, i) => userHeader(`bench-${i}`));
  let n = 0;
  const one = async (i: number) => {
    const started = performance.now();
    const res = await request(server)
      .post('/api/product-control-plane/executions')
      .set('authorization', headers[i % headers.length])
      .send({ agentRef: 'agent:default/bench', input: { text: `run ${i}` } });
    if (res.status !== 202) {
      throw new Error(`request ${i}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    n++;
    return performance.now() - started;
  };
  const run = async (count: number) => {
    const latencies: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < count) {
          latencies.push(await one(next++));
        }
      }),
    );
    return latencies;
  };
  await run(WARMUP);
  const started = performance.now();
  const latencies = await run(REQUESTS);
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const [{ count }] = await knex('pcp_executions').count({ count: '*' });
  console.log(
    `${label}: ${REQUESTS} admissions, concurrency ${CONCURRENCY}: ${(REQUESTS / seconds).toFixed(0)} req/s, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms (${count} records, ${fakes.plans.length} plans dispatched)`,
  );
  void n;
  server.close();
}

async function main() {
  console.log(
    `node ${process.version}, ${os.cpus().length} cpus, ${REQUESTS} requests after ${WARMUP} warm-up, ${CONCURRENCY} in flight`,
  );
  const sqlite = knexFactory({
    client: 'better-sqlite3',
    connection: { filename: ':memory:' },
    useNullAsDefault: true,
  });
  await measure('SQLite', sqlite);
  await sqlite.destroy();

  const pg = process.env.BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING;
  if (pg) {
    const admin = knexFactory({ client: 'pg', connection: pg });
    const name = `bench_admission_${Date.now()}`;
    await admin.raw(`CREATE DATABASE ${name}`);
    const url = new URL(pg);
    url.pathname = `/${name}`;
    const db = knexFactory({ client: 'pg', connection: url.toString() });
    const [{ current }] = (await db.raw('select current_database() as current')).rows;
    if (current !== name) throw new Error(`connected to ${current}, not ${name}`);
    try {
      await measure('PostgreSQL', db);
    } finally {
      await db.destroy();
      await admin.raw(`DROP DATABASE ${name}`);
      await admin.destroy();
    }
  } else {
    console.log('PostgreSQL: skipped (no connection string)');
  }
  process.exit(0);
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
