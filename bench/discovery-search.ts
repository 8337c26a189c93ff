/*
 * Discovery-search latency of the marketplace over 10,000 Agent listings.
 *
 * Builds the marketplace's real router + service + store on SQLite (a file)
 * and, when BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING is set, on
 * PostgreSQL; indexes N generated Agent entities (through the same sync code
 * as the catalog sync) plus usage records for popularity/success-rate sorts;
 * then times M `GET /agents` requests over HTTP with a mix of full-text
 * search, tag/pricing/visibility/owner/availability filters, the four sorts
 * and paging, as a signed-in user (so the visibility SQL applies). Prints
 * p50/p95/max per database.
 *
 * Run from the repo root (after `. scripts/toolchain.sh`, and optionally
 * `eval "$(bash scripts/postgres.sh)"`):
 *   node --require ./node_modules/@backstage/cli/config/nodeTransform.cjs bench/discovery-search.ts --agents 10000 --searches 500
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import knexFactory, { Knex } from 'knex';
import { AgentEntity, UsageRecord } from '@internal/plugin-agents-common';
import { applyMigrations, MarketplaceStore } from '../plugins/marketplace-backend/src/database/MarketplaceStore';
import { MarketplaceService } from '../plugins/marketplace-backend/src/services/MarketplaceService';
import { createRouter } from '../plugins/marketplace-backend/src/router';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const AGENTS = arg('agents', 10_000);
const SEARCHES = arg('searches', 500);
const USAGE = arg('usage', 20_000);

const WORDS = ['summarize', 'translate', 'classify', 'extract', 'profile', 'review', 'search', 'fetch', 'plan', 'monitor', 'forecast', 'label'];
const TAGS = ['nlp', 'text', 'data', 'ops', 'llm', 'vision', 'security', 'finance', 'hr', 'search'];
const TEAMS = ['platform-team', 'ml-team', 'data-team', 'team-a', 'team-b', 'team-c', 'team-d', 'team-e'];
const VIS = ['public', 'public', 'internal', 'internal', 'private', 'preview'] as const;
const PRICING = ['free', 'per-run', 'subscription', 'metered'] as const;

function rng(seed: number) {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
}

function generate(n: number): AgentEntity[] {
  const r = rng(42);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  return Array.from({ length: n }, (_, i) => {
    const verb = pick(WORDS);
    const pricing = pick(PRICING);
    return {
      apiVersion: 'agentplatform.dev/v1alpha1',
      kind: 'Agent',
      metadata: {
        name: `${verb}-agent-${i}`,
        namespace: 'default',
        title: `${verb[0].toUpperCase()}${verb.slice(1)} agent ${i}`,
        description: `Agent ${i} that can ${verb} ${pick(WORDS)} inputs for ${pick(TEAMS)}.`,
        tags: [pick(TAGS), pick(TAGS)].filter((t, k, a) => a.indexOf(t) === k),
      },
      spec: {
        owner: `group:${pick(TEAMS)}`,
        lifecycle: 'production',
        version: `1.${i % 7}.0`,
        runtime: { image: `registry.example.com/agents/a${i}:1.0.0`, entrypoint: 'index.js' },
        input: { type: 'object' },
        marketplace: {
          visibility: pick(VIS),
          allowedGroups: r() < 0.5 ? [`group:${pick(TEAMS)}`] : [],
          plans: [
            { name: 'free', pricing: 'free', runsPerDay: 10 },
            ...(pricing === 'free' ? [] : [{ name: 'paid', pricing, price: 0.01, includedRuns: pricing === 'subscription' ? 100 : undefined }]),
          ],
        },
      },
    } as AgentEntity;
  });
}

function queries(m: number): string[] {
  const r = rng(7);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const sorts = ['name', 'popularity', 'successRate', 'newest'];
  return Array.from({ length: m }, () => {
    const p = new URLSearchParams();
    if (r() < 0.6) p.set('q', pick(WORDS).slice(0, 4 + Math.floor(r() * 4)));
    if (r() < 0.4) p.set('tags', pick(TAGS));
    if (r() < 0.3) p.set('pricing', pick(PRICING));
    if (r() < 0.2) p.set('visibility', pick(['public', 'internal', 'private']));
    if (r() < 0.15) p.set('owner', `group:default/${pick(TEAMS)}`);
    if (r() < 0.1) p.set('availability', pick(['available', 'degraded', 'unknown']));
    p.set('sort', pick(sorts));
    p.set('page', String(1 + Math.floor(r() * 3)));
    p.set('pageSize', '20');
    return `/agents?${p}`;
  });
}

async function benchOne(label: string, knex: Knex) {
  await applyMigrations(knex);
  for (const t of ['usage_records', 'entitlement_audit', 'entitlements', 'visibility_overrides', 'listings']) await knex(t).delete();
  const store = new MarketplaceStore(knex);
  const entities = generate(AGENTS);
  let t0 = Date.now();
  await store.syncListings(entities, { complete: true });
  const syncMs = Date.now() - t0;

  const r = rng(99);
  const records: UsageRecord[] = Array.from({ length: USAGE }, (_, i) => {
    const e = entities[Math.floor(r() * r() * AGENTS)];
    const finished = new Date(Date.now() - Math.floor(r() * 40) * 86_400_000);
    return {
      executionId: `bench-${i}`, agentRef: `agent:default/${e.metadata.name}`, userRef: 'user:default/ada',
      holderRef: 'user:default/ada', plan: 'free', state: r() < 0.85 ? 'succeeded' : 'failed',
      startedAt: new Date(finished.getTime() - 3000).toISOString(), finishedAt: finished.toISOString(), computeSeconds: 3, cost: 0,
    };
  });
  t0 = Date.now();
  for (let i = 0; i < records.length; i += 500) {
    await knex('usage_records').insert(records.slice(i, i + 500).map(u => ({
      execution_id: u.executionId, agent_ref: u.agentRef, agent_version: null, user_ref: u.userRef, holder_ref: u.holderRef,
      plan: u.plan, state: u.state, started_at: new Date(u.startedAt!), finished_at: new Date(u.finishedAt), compute_seconds: 3, cost: 0,
    })));
  }
  const usageMs = Date.now() - t0;
  // PostgreSQL's autovacuum would analyze the fresh tables; do it now so plans are realistic.
  if (knex.client.config.client === 'pg') await knex.raw('analyze');

  const service = new MarketplaceService({
    store,
    sync: { syncAll: async () => ({ upserted: 0, removed: 0 }), syncOne: async () => false } as any,
    availability: { context: async () => ({ infra: 'unknown', degradedAfterFailures: 3 }) } as any,
    currency: 'USD',
  });
  const claims = ['user:default/ada', 'group:default/ml-team', 'group:default/team-a'];
  const app = express();
  app.use(await createRouter({
    service,
    sync: {} as any,
    httpAuth: { credentials: async () => ({ $$type: '@backstage/BackstageCredentials', principal: { type: 'user', userEntityRef: claims[0] } }) } as any,
    userInfo: { getUserInfo: async () => ({ userEntityRef: claims[0], ownershipEntityRefs: claims.slice(1) }) },
    logger: { info() {}, warn() {}, error() {}, debug() {}, child() { return this; } } as any,
  }));
  const server = app.listen(0);
  const port = (server.address() as { port: number }).port;
  const urls = queries(SEARCHES);
  for (const u of urls.slice(0, 20)) await (await fetch(`http://127.0.0.1:${port}${u}`)).json(); // warm-up
  const times: number[] = [];
  const slowest: [number, string][] = [];
  let totalHits = 0;
  for (const u of urls) {
    const start = process.hrtime.bigint();
    const res = await fetch(`http://127.0.0.1:${port}${u}`);
    const body = (await res.json()) as { totalCount: number };
    if (!res.ok) throw new Error(`${u}: ${res.status} ${JSON.stringify(body)}`);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    times.push(ms);
    slowest.push([ms, u]);
    totalHits += body.totalCount;
  }
  server.close();
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(1);
  console.log(
    `${label}: ${AGENTS} agents (sync ${syncMs} ms), ${USAGE} usage records (${usageMs} ms), ${SEARCHES} searches, ` +
      `mean ${Math.round(totalHits / SEARCHES)} matches each: p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${times[times.length - 1].toFixed(1)} ms`,
  );
  slowest.sort((a, b) => b[0] - a[0]);
  for (const [ms, u] of slowest.slice(0, 3)) console.log(`  slowest: ${ms.toFixed(1)} ms ${u}`);
}

async function main() {
  console.log(`node ${process.version}, ${os.cpus().length} cpus`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-bench-'));
  const sqlite = knexFactory({ client: 'better-sqlite3', connection: { filename: path.join(dir, 'marketplace.sqlite') }, useNullAsDefault: true });
  await benchOne('SQLite', sqlite);
  await sqlite.destroy();
  const pg = process.env.BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING;
  if (pg) {
    const admin = knexFactory({ client: 'pg', connection: pg });
    const db = `marketplace_bench_${Date.now()}`;
    await admin.raw(`create database ${db}`);
    const knex = knexFactory({ client: 'pg', connection: { connectionString: pg, database: db } as any });
    try {
      await benchOne('PostgreSQL 15', knex);
    } finally {
      await knex.destroy();
      await admin.raw(`drop database ${db}`);
      await admin.destroy();
    }
  } else {
    console.log('PostgreSQL: skipped (BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING not set)');
  }
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
