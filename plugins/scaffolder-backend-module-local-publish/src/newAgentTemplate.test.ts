/*
 * The "New agent" template end to end, in a backend with the real scaffolder,
 * catalog (with the Agent and Template kinds) and publish:local: a dry run
 * through /v2/dry-run, then a real task whose agent lands in the catalog, is
 * valid, and whose generated test passes against the real agent runtime.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import request from 'supertest';
import YAML from 'yaml';
import {
  createMockDirectory,
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import catalogModuleTemplateKind from '@backstage/plugin-catalog-backend-module-scaffolder-entity-model';
import scaffolderPlugin from '@backstage/plugin-scaffolder-backend';
import catalogModuleAgents from '@internal/plugin-catalog-backend-module-agents';
import { validateAgentEntity } from '@internal/plugin-agents-common';
import localPublishModule from './index';

jest.setTimeout(180_000);

const REPO = path.resolve(__dirname, '../../..');
const TEMPLATE_DIR = path.join(REPO, 'catalog/templates/new-agent');
const RUNTIME_BIN = path.join(
  REPO,
  'packages/agent-runtime/bin/agent-runtime.js',
);
const AUTH = `Bearer ${mockCredentials.user.token()}`;

const VALUES = {
  name: 'weather-reporter',
  description: 'Reports the weather for a city, with "quotes" and: colons.',
  owner: 'group:default/platform-team',
  visibility: 'internal',
  pricing: 'per-run',
  price: 0.01,
  runsPerDay: 50,
  inputFields: [
    { name: 'city', title: 'City', type: 'string', required: true },
    { name: 'days', type: 'integer', required: false },
    { name: 'metric', title: 'Metric units', type: 'boolean' },
  ],
  tools: ['http'],
};

function listFiles(dir: string, prefix = ''): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap(e =>
      e.isDirectory()
        ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`)
        : [`${prefix}${e.name}`],
    );
}

async function eventually<T>(
  fn: () => Promise<T | undefined>,
  what: string,
): Promise<T> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 300));
  }
}

function checkGeneratedEntity(entity: any) {
  const agent = validateAgentEntity(entity);
  expect(agent.metadata.name).toBe('weather-reporter');
  expect(agent.metadata.description).toBe(VALUES.description);
  expect(agent.spec.owner).toBe('group:default/platform-team');
  expect(agent.spec.input).toEqual({
    type: 'object',
    required: ['city'],
    properties: {
      city: { type: 'string', title: 'City' },
      days: { type: 'integer', title: 'days' },
      metric: { type: 'boolean', title: 'Metric units' },
    },
  });
  expect(agent.spec.tools).toEqual(['http']);
  expect(agent.spec.marketplace).toEqual({
    visibility: 'internal',
    plans: [
      {
        name: 'per-run',
        pricing: 'per-run',
        price: 0.01,
        runsPerDay: 50,
        concurrency: 1,
      },
    ],
  });
}

describe('the "New agent" template', () => {
  const publishDir = createMockDirectory();
  let server: any;

  beforeAll(async () => {
    ({ server } = await startTestBackend({
      features: [
        catalogPlugin,
        catalogModuleTemplateKind,
        catalogModuleAgents,
        scaffolderPlugin,
        localPublishModule,
        mockServices.rootConfig.factory({
          data: {
            catalog: {
              rules: [
                { allow: ['Agent', 'Template', 'Location', 'Group', 'User'] },
              ],
              locations: [
                {
                  type: 'file',
                  target: path.join(TEMPLATE_DIR, 'template.yaml'),
                },
                {
                  type: 'file',
                  target: path.join(publishDir.path, '*/catalog-info.yaml'),
                },
              ],
            },
            agentPlatform: { localPublish: { directory: publishDir.path } },
          },
        }),
      ],
    }));
  });

  it('renders in a dry run: a valid Agent, handler, test, Dockerfile on the base image; nothing published', async () => {
    const template = YAML.parse(
      fs.readFileSync(path.join(TEMPLATE_DIR, 'template.yaml'), 'utf8'),
    );
    const directoryContents = listFiles(TEMPLATE_DIR).map(p => ({
      path: p,
      base64Content: fs
        .readFileSync(path.join(TEMPLATE_DIR, p))
        .toString('base64'),
    }));
    const res = await request(server)
      .post('/api/scaffolder/v2/dry-run')
      .set('Authorization', AUTH)
      .send({ template, values: VALUES, secrets: {}, directoryContents });
    expect(res.status).toBe(200);

    const files = Object.fromEntries(
      res.body.directoryContents.map((f: any) => [
        f.path,
        Buffer.from(f.base64Content, 'base64').toString('utf8'),
      ]),
    );
    expect(Object.keys(files).sort()).toEqual([
      'Dockerfile',
      'README.md',
      'catalog-info.yaml',
      'index.js',
      'index.test.js',
      'package.json',
    ]);
    checkGeneratedEntity(YAML.parse(files['catalog-info.yaml']));
    expect(files['index.js']).toContain("require('@internal/agent-runtime')");
    expect(files['index.js']).toContain(
      'message: `weather-reporter received ${fields.length} field(s)`',
    );
    expect(JSON.parse(files['package.json'])).toMatchObject({
      name: 'weather-reporter',
      scripts: { test: 'node --test' },
    });
    expect(files.Dockerfile).toBe(
      fs.readFileSync(
        path.join(REPO, 'packages/agent-runtime/templates/agent.Dockerfile'),
        'utf8',
      ),
    );

    const messages = res.body.log.map((l: any) => l.body.message).join('\n');
    expect(messages).toContain('Dry run: would publish . to');
    expect(fs.readdirSync(publishDir.path)).toEqual([]);
  });

  it('refuses invalid parameters in a dry run (the scaffolder reports the first invalid page)', async () => {
    const template = YAML.parse(
      fs.readFileSync(path.join(TEMPLATE_DIR, 'template.yaml'), 'utf8'),
    );
    const directoryContents = listFiles(TEMPLATE_DIR).map(p => ({
      path: p,
      base64Content: fs
        .readFileSync(path.join(TEMPLATE_DIR, p))
        .toString('base64'),
    }));
    const dryRun = (values: object) =>
      request(server)
        .post('/api/scaffolder/v2/dry-run')
        .set('Authorization', AUTH)
        .send({ template, values, directoryContents });

    const badName = await dryRun({ ...VALUES, name: 'Not A Name' });
    expect(badName.status).toBe(400);
    expect(badName.body.errors.map((e: any) => e.stack)).toEqual([
      expect.stringMatching(/^instance.name does not match pattern/),
    ]);

    const { price, ...noPrice } = VALUES;
    const missingPrice = await dryRun(noPrice);
    expect(missingPrice.status).toBe(400);
    expect(missingPrice.body.errors.map((e: any) => e.stack)).toContain(
      'instance does not meet dependency required by instance.pricing',
    );

    // A free plan needs no price, and renders a valid entity without one.
    const free = await dryRun({
      ...noPrice,
      pricing: 'free',
      inputFields: [{ name: 'text', type: 'string' }],
      tools: [],
    });
    expect(free.status).toBe(200);
    const catalogInfo = free.body.directoryContents.find(
      (f: any) => f.path === 'catalog-info.yaml',
    );
    const entity = validateAgentEntity(
      YAML.parse(
        Buffer.from(catalogInfo.base64Content, 'base64').toString('utf8'),
      ),
    );
    expect(entity.spec.marketplace!.plans).toEqual([
      { name: 'free', pricing: 'free', runsPerDay: 50, concurrency: 1 },
    ]);
    expect(entity.spec.input).toEqual({
      type: 'object',
      properties: { text: { type: 'string', title: 'text' } },
    });
    expect(entity.spec.tools).toEqual([]);
  });

  it('creates the agent for real: published, registered, valid, and its own test passes', async () => {
    await eventually(async () => {
      const r = await request(server)
        .get('/api/catalog/entities/by-name/template/default/new-agent')
        .set('Authorization', AUTH);
      return r.status === 200 ? true : undefined;
    }, 'the template in the catalog');

    const created = await request(server)
      .post('/api/scaffolder/v2/tasks')
      .set('Authorization', AUTH)
      .send({ templateRef: 'template:default/new-agent', values: VALUES });
    expect(created.status).toBe(201);
    const task = await eventually(async () => {
      const r = await request(server)
        .get(`/api/scaffolder/v2/tasks/${created.body.id}`)
        .set('Authorization', AUTH);
      return ['completed', 'failed', 'cancelled'].includes(r.body.status)
        ? r.body
        : undefined;
    }, 'the task to finish');
    if (task.status !== 'completed') {
      const events = await request(server)
        .get(`/api/scaffolder/v2/tasks/${created.body.id}/events`)
        .set('Authorization', AUTH);
      throw new Error(
        `task ${task.status}: ${events.body
          .map((e: any) => e.body.message)
          .join('\n')}`,
      );
    }

    const target = path.join(publishDir.path, 'weather-reporter');
    expect(fs.readdirSync(target).sort()).toEqual([
      'Dockerfile',
      'README.md',
      'catalog-info.yaml',
      'index.js',
      'index.test.js',
      'package.json',
    ]);

    // Registered: the catalog picks it up right away (the action refreshed the covering location).
    const entity = await eventually(async () => {
      const r = await request(server)
        .get('/api/catalog/entities/by-name/agent/default/weather-reporter')
        .set('Authorization', AUTH);
      return r.status === 200 ? r.body : undefined;
    }, 'the new agent in the catalog');
    checkGeneratedEntity(entity);
    expect(
      entity.metadata.annotations['backstage.io/managed-by-location'],
    ).toBe(`file:${path.join(target, 'catalog-info.yaml')}`);

    // The generated repository's own test passes against the real runtime.
    const test = spawnSync(process.execPath, ['--test'], {
      cwd: target,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AGENT_RUNTIME_BIN: RUNTIME_BIN,
      },
      encoding: 'utf8',
    });
    expect(`${test.stdout}${test.stderr}`).toMatch(/# pass 2\s+# fail 0/);
    expect(test.status).toBe(0);

    // The same name again is refused, and the published agent is untouched.
    const again = await request(server)
      .post('/api/scaffolder/v2/tasks')
      .set('Authorization', AUTH)
      .send({
        templateRef: 'template:default/new-agent',
        values: { ...VALUES, description: 'A second one that must not win.' },
      });
    const second = await eventually(async () => {
      const r = await request(server)
        .get(`/api/scaffolder/v2/tasks/${again.body.id}`)
        .set('Authorization', AUTH);
      return ['completed', 'failed'].includes(r.body.status)
        ? r.body
        : undefined;
    }, 'the second task to finish');
    expect(second.status).toBe('failed');
    const events = await request(server)
      .get(`/api/scaffolder/v2/tasks/${again.body.id}/events`)
      .set('Authorization', AUTH);
    expect(JSON.stringify(events.body)).toContain(
      'already exists; choose another name',
    );
    expect(
      YAML.parse(
        fs.readFileSync(path.join(target, 'catalog-info.yaml'), 'utf8'),
      ).metadata.description,
    ).toBe(VALUES.description);
  });
});
