import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { mockServices } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { createTestDatabases } from '@internal/test-helpers';
import { Knex } from 'knex';
import request from 'supertest';
import {
  agent,
  infraHeader,
  startPlugin,
  userHeader,
} from './__testUtils__/harness';
import { rotateUserSecretKey } from './services/rotateUserSecretKey';

jest.setTimeout(120_000);

const API = '/api/product-control-plane';
const MIGRATIONS = path.resolve(__dirname, '../migrations');
const newKey = () => crypto.randomBytes(32).toString('base64');
const entities = [
  agent('summarizer', { spec: { secrets: ['OPENAI_API_KEY'] } as any }),
];
const secretUrl = (name: string) =>
  `${API}/secrets/${encodeURIComponent('agent:default/summarizer')}/${name}`;

/** How the first version encrypted (no key id, no associated data). */
function legacyEncrypt(material: string, plain: string): string {
  const key = crypto.createHash('sha256').update(material).digest();
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), data]).toString('base64');
}

const keysConfig = (...keys: Array<[string, string]>) => ({
  userSecrets: { keys: keys.map(([id, key]) => ({ id, key })) },
});

/** Runs the agent as `user` and returns what the infra plane would be given. */
async function runAndResolve(server: any, user: string) {
  const res = await request(server)
    .post(`${API}/executions`)
    .set('authorization', userHeader(user))
    .send({ agentRef: 'agent:default/summarizer', input: { text: 'x' } });
  if (res.status !== 202) return { status: res.status, body: res.body };
  const secrets = await request(server)
    .get(`${API}/internal/executions/${res.body.id}/secrets`)
    .set('authorization', infraHeader());
  return { status: res.status, body: secrets.body };
}

describe('user-secret keys', () => {
  const databases = createTestDatabases();

  describe.each(databases.eachSupportedId())('on %p', databaseId => {
    let knex: Knex;
    beforeEach(async () => {
      knex = await databases.init(databaseId);
    });

    it('migrates rows of the first version to the configured key and drops the key kept in the database', async () => {
      await knex.migrate.up({
        directory: MIGRATIONS,
        name: '20261130120000_init.js',
      });
      await knex('pcp_keys').insert({ id: 'user-secrets', value: 'db-key' });
      const row = (id: string, user: string, ciphertext: string) => ({
        id,
        user_ref: `user:default/${user}`,
        agent_ref: 'agent:default/summarizer',
        name: 'OPENAI_API_KEY',
        ciphertext,
        updated_at: new Date().toISOString(),
      });
      await knex('pcp_user_secrets').insert([
        row('s1', 'ann', legacyEncrypt('db-key', 'ann-value')),
        row('s2', 'bob', legacyEncrypt('old-passphrase', 'bob-value')),
        row('s3', 'cyd', legacyEncrypt('lost-key', 'cyd-value')),
      ]);
      // Without the configured key the migration stops, naming why.
      await expect(
        knex.migrate.latest({ directory: MIGRATIONS }),
      ).rejects.toThrow(/pcp_user_secrets has rows to re-encrypt/);

      const { server } = await startPlugin({
        knex,
        entities,
        config: {
          userSecrets: {
            keys: [{ id: 'k1', key: newKey() }],
            encryptionKey: 'old-passphrase',
          },
        },
      });
      expect(await knex.schema.hasTable('pcp_keys')).toBe(false);
      const rows = await knex('pcp_user_secrets').orderBy('id');
      expect(rows.map(r => r.key_id)).toEqual([
        'k1',
        'k1',
        'unreadable-legacy',
      ]);
      for (const r of rows) expect(r.ciphertext).not.toMatch(/value/);

      expect((await runAndResolve(server, 'ann')).body.secrets).toEqual([
        { name: 'OPENAI_API_KEY', value: 'ann-value' },
      ]);
      expect((await runAndResolve(server, 'bob')).body.secrets).toEqual([
        { name: 'OPENAI_API_KEY', value: 'bob-value' },
      ]);
      const cyd = await runAndResolve(server, 'cyd');
      expect(cyd.status).toBe(409);
      expect(cyd.body.error.message).toMatch(
        /stored secret OPENAI_API_KEY for agent:default\/summarizer cannot be decrypted \(its key unreadable-legacy is not configured\); store it again \[user-secret-unreadable\]/,
      );
      // Storing it again fixes it.
      await request(server)
        .put(secretUrl('OPENAI_API_KEY'))
        .set('authorization', userHeader('cyd'))
        .send({ value: 'cyd-new' })
        .expect(204);
      expect((await runAndResolve(server, 'cyd')).body.secrets).toEqual([
        { name: 'OPENAI_API_KEY', value: 'cyd-new' },
      ]);
    });

    it('refuses runs with a tampered or moved ciphertext with 409, never 500', async () => {
      const { server } = await startPlugin({
        knex,
        entities,
        config: keysConfig(['k1', newKey()]),
      });
      for (const user of ['eve', 'fay']) {
        await request(server)
          .put(secretUrl('OPENAI_API_KEY'))
          .set('authorization', userHeader(user))
          .send({ value: `${user}-value` })
          .expect(204);
      }
      // Fay's row gets Eve's ciphertext: the associated data no longer matches.
      const eve = await knex('pcp_user_secrets')
        .where('user_ref', 'user:default/eve')
        .first();
      await knex('pcp_user_secrets')
        .where('user_ref', 'user:default/fay')
        .update({ ciphertext: eve.ciphertext });
      const fay = await runAndResolve(server, 'fay');
      expect(fay.status).toBe(409);
      expect(fay.body.error.message).toMatch(
        /cannot be decrypted \(it was altered or does not belong to this user, agent and name\)/,
      );
      expect(JSON.stringify(fay.body)).not.toContain('eve-value');

      // A run admitted before its row was altered: the infra plane gets 409.
      const ok = await request(server)
        .post(`${API}/executions`)
        .set('authorization', userHeader('eve'))
        .send({ agentRef: 'agent:default/summarizer', input: { text: 'x' } });
      expect(ok.status).toBe(202);
      const flipped = Buffer.from(eve.ciphertext, 'base64');
      flipped[20] ^= 1;
      await knex('pcp_user_secrets')
        .where('user_ref', 'user:default/eve')
        .update({ ciphertext: flipped.toString('base64') });
      const secrets = await request(server)
        .get(`${API}/internal/executions/${ok.body.id}/secrets`)
        .set('authorization', infraHeader());
      expect(secrets.status).toBe(409);
      expect(secrets.body.error.message).toMatch(/\[user-secret-unreadable\]/);
    });

    it('rotates every row to the current key; the old key can then be removed', async () => {
      const [k1, k2] = [newKey(), newKey()];
      const first = await startPlugin({
        knex,
        entities,
        config: keysConfig(['k1', k1]),
      });
      for (const user of ['gus', 'hal', 'ivy']) {
        await request(first.server)
          .put(secretUrl('OPENAI_API_KEY'))
          .set('authorization', userHeader(user))
          .send({ value: `${user}-value` })
          .expect(204);
      }
      const summary = await rotateUserSecretKey({
        config: new ConfigReader({
          productControlPlane: keysConfig(['k2', k2], ['k1', k1]),
        }),
        database: { getClient: async () => knex },
        logger: mockServices.logger.mock(),
        env: {},
      });
      expect(summary).toEqual({ keyId: 'k2', reencrypted: 3, unreadable: [] });
      const rows = await knex('pcp_user_secrets');
      expect(rows.map(r => r.key_id)).toEqual(['k2', 'k2', 'k2']);

      const after = await startPlugin({
        knex,
        entities,
        config: keysConfig(['k2', k2]),
      });
      expect((await runAndResolve(after.server, 'hal')).body.secrets).toEqual([
        { name: 'OPENAI_API_KEY', value: 'hal-value' },
      ]);
      // Nothing left to do on a second run.
      const again = await rotateUserSecretKey({
        config: new ConfigReader({
          productControlPlane: keysConfig(['k2', k2]),
        }),
        database: { getClient: async () => knex },
        logger: mockServices.logger.mock(),
        env: {},
      });
      expect(again.reencrypted).toBe(0);
    });
  });

  it('rotate-user-secret-key re-encrypts a SQLite database from the command line', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcp-rotate-'));
    const [k1, k2] = [newKey(), newKey()];
    const configFile = path.join(dir, 'app-config.yaml');
    fs.writeFileSync(
      configFile,
      [
        'backend:',
        '  database:',
        '    client: better-sqlite3',
        `    connection: { directory: ${JSON.stringify(dir)} }`,
        '',
      ].join('\n'),
    );
    const env = {
      ...process.env,
      AGENT_PLATFORM_USER_SECRET_KEY: `k2:${k2},k1:${k1}`,
    };
    const knex = require('knex')({
      client: 'better-sqlite3',
      connection: { filename: path.join(dir, 'product-control-plane.sqlite') },
      useNullAsDefault: true,
    });
    try {
      const { server } = await startPlugin({
        knex,
        entities,
        config: keysConfig(['k1', k1]),
      });
      await request(server)
        .put(secretUrl('OPENAI_API_KEY'))
        .set('authorization', userHeader('jo'))
        .send({ value: 'jo-value' })
        .expect(204);
      const { stdout } = await promisify(execFile)(
        'yarn',
        ['rotate-user-secret-key', '--config', configFile],
        { cwd: path.resolve(__dirname, '..'), env },
      );
      expect(stdout).toContain(
        '{"keyId":"k2","reencrypted":1,"unreadable":[]}',
      );
      expect(stdout).not.toContain('jo-value');
      expect(
        (await knex('pcp_user_secrets')).map((r: any) => r.key_id),
      ).toEqual(['k2']);
    } finally {
      await knex.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
