/*
 * The "New agent" template end to end, in a backend with the real scaffolder,
 * catalog (with the Agent and Template kinds) and publish:local: a dry run
 * through /v2/dry-run, then a real task whose agent lands in the catalog, is
 * valid, and whose generated test passes against the real agent runtime.
 * Every value renders as data, also values posted past the form's checks.
 */
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
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
  tags: ['weather'],
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

/** Breaks out of a JS comment, string or template, YAML, JSON, Markdown or HTML if spliced in; is itself a template. */
const HOSTILE =
  'Ok.\u2028globalThis.pwned = 1; //\u2029globalThis.pwned = 2;\n' +
  'spec:\n  evil: true\n\' " ` ${globalThis.pwned = 3} */ </script> \\ ' +
  '\r\n```\n# ${{ values.owner }}';
/** Every user-controlled value made hostile. */
const HOSTILE_VALUES = {
  ...mapText(VALUES, text => `${text}${HOSTILE}`),
  price: `0.01${HOSTILE}`,
  runsPerDay: `50${HOSTILE}`,
};

const read = (file: string) =>
  fs.readFileSync(path.join(TEMPLATE_DIR, file), 'utf8');
const readTemplate = () => YAML.parse(read('template.yaml'));
const SKELETON_FILES = fs
  .readdirSync(path.join(TEMPLATE_DIR, 'skeleton'))
  .sort();

/** `value` with `fn` applied to every string in it (and to every key, if `keys`). */
function mapText(value: any, fn: (s: string) => string, keys = false): any {
  if (typeof value === 'string') return fn(value);
  if (Array.isArray(value)) return value.map(x => mapText(x, fn, keys));
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, x]) => [
      keys ? fn(k) : k,
      mapText(x, fn, keys),
    ]),
  );
}

/** The files of a /v2/dry-run response, by path. */
function renderedFiles(res: any): Record<string, string> {
  return Object.fromEntries(
    res.body.directoryContents.map((f: any) => [
      f.path,
      Buffer.from(f.base64Content, 'base64').toString('utf8'),
    ]),
  );
}

/**
 * Runs CommonJS `source` in a fresh V8 context where `require` serves only
 * `modules`; returns its exports and the context's globals.
 */
function loadInSandbox(source: string, modules: Record<string, unknown>) {
  const sandbox = vm.createContext({});
  const module = { exports: {} as any };
  vm.compileFunction(source, ['require', 'module', 'exports'], {
    parsingContext: sandbox,
  })(
    (id: string) => {
      if (!(id in modules)) throw new Error(`unexpected require('${id}')`);
      return modules[id];
    },
    module,
    module.exports,
  );
  return { exports: module.exports, sandbox };
}

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
  expect(agent.metadata.tags).toEqual(['generated', 'weather']);
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
  const directoryContents = listFiles(TEMPLATE_DIR).map(p => ({
    path: p,
    base64Content: fs
      .readFileSync(path.join(TEMPLATE_DIR, p))
      .toString('base64'),
  }));
  const dryRun = (values: object, template = readTemplate()) =>
    request(server)
      .post('/api/scaffolder/v2/dry-run')
      .set('Authorization', AUTH)
      .send({ template, values, secrets: {}, directoryContents });

  /** Runs the template from the catalog as a real task; its final status and events. */
  const runTask = async (values: object) => {
    const created = await request(server)
      .post('/api/scaffolder/v2/tasks')
      .set('Authorization', AUTH)
      .send({ templateRef: 'template:default/new-agent', values });
    expect(created.status).toBe(201);
    const task = `/api/scaffolder/v2/tasks/${created.body.id}`;
    const { status } = await eventually(async () => {
      const r = await request(server).get(task).set('Authorization', AUTH);
      return ['completed', 'failed', 'cancelled'].includes(r.body.status)
        ? r.body
        : undefined;
    }, 'the task to finish');
    const events = await request(server)
      .get(`${task}/events`)
      .set('Authorization', AUTH);
    return { status, events: events.body };
  };

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
    const res = await dryRun(VALUES);
    expect(res.status).toBe(200);

    const files = renderedFiles(res);
    expect(Object.keys(files).sort()).toEqual(SKELETON_FILES);
    checkGeneratedEntity(YAML.parse(files['catalog-info.yaml']));
    expect(files['index.js']).toBe(read('skeleton/index.js'));
    expect(JSON.parse(files['agent.json'])).toEqual({
      name: 'weather-reporter',
      tools: ['http'],
      inputFields: VALUES.inputFields,
    });
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
    const entity = validateAgentEntity(
      YAML.parse(renderedFiles(free)['catalog-info.yaml']),
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

  it('renders hostile values posted past the form as data: code unchanged, JSON and YAML keep their shape', async () => {
    // A client can post any values: without the parameters' checks, the skeleton alone must hold.
    const template = readTemplate();
    template.spec.parameters = [];
    template.spec.steps = template.spec.steps.filter(
      (s: any) => s.id === 'fetch',
    );
    const render = async (values: object) => {
      const res = await dryRun(values, template);
      expect(res.status).toBe(200);
      return renderedFiles(res);
    };
    // The same values with a harmless marker instead of the hostile text: the expected shape.
    const MARKER = '_marker_';
    const files = await render(HOSTILE_VALUES);
    const expected = await render(
      mapText(HOSTILE_VALUES, t => t.replaceAll(HOSTILE, MARKER)),
    );
    const v = HOSTILE_VALUES;

    // The code is the skeleton's, parses, and reads the values, exactly, from agent.json.
    for (const file of ['index.js', 'index.test.js', 'Dockerfile']) {
      expect(files[file]).toBe(read(`skeleton/${file}`));
    }
    expect(() => new vm.Script(files['index.test.js'])).not.toThrow();
    const { exports: agent, sandbox } = loadInSandbox(files['index.js'], {
      '@internal/agent-runtime': { defineAgent: (d: object) => d },
      './agent.json': JSON.parse(files['agent.json']),
    });
    const input = { [v.inputFields[0].name]: 'x' };
    const ctx = { log: () => {}, progress: () => {}, tools: {} };
    const result = await agent.handler(input, ctx);
    expect(JSON.parse(JSON.stringify([agent.tools, result]))).toEqual([
      v.tools,
      { message: `${v.name} received 1 field(s)`, received: input, tools: [] },
    ]);
    expect(sandbox.pwned).toBeUndefined();

    // JSON and YAML: the hostile render has exactly the marker render's keys and documents.
    const parsed = (all: Record<string, string>, file: string) =>
      file.endsWith('.json')
        ? JSON.parse(all[file])
        : YAML.parseAllDocuments(all[file]).map(d =>
            d.errors.length ? d.errors : d.toJS(),
          );
    for (const file of ['agent.json', 'package.json', 'catalog-info.yaml']) {
      expect(parsed(files, file)).toEqual(
        mapText(
          parsed(expected, file),
          t => t.replaceAll(MARKER, HOSTILE),
          true,
        ),
      );
    }
    const [entity] = parsed(files, 'catalog-info.yaml');
    expect(entity.metadata.description).toBe(v.description);

    // README: each value is one line of text after fixed text; the lines are the marker render's.
    const lines = (md: string) =>
      md.split('\n').map(l => l.replace(/^(# Agent |What it does: ).*/, '$1'));
    expect(lines(files['README.md'])).toEqual(lines(expected['README.md']));
    expect(files['README.md']).not.toMatch(/[\r\u2028\u2029]|<\/script>/);
  });

  it('refuses hostile names, descriptions, tags and field names (the form checks the same schema)', async () => {
    const hostile = `\n|\u2028|\u2029|'|"|\`|\${|*/|</script>|\\|\nspec:`.split(
      '|',
    );
    const refused = async (values: object) =>
      (await dryRun({ ...VALUES, ...values })).status === 400;
    const results = await Promise.all(
      hostile.map(async h => [
        await refused({ name: `agent${h}x` }),
        await refused({ tags: [`tag${h}x`] }),
        await refused({
          inputFields: [{ name: `field${h}x`, type: 'string' }],
        }),
        await refused({ description: `Does things.${h}x` }),
      ]),
    );
    // Quotes, backticks and the like may be in a description: it is rendered as data.
    const lineBreak = (h: string) => /[\n\u2028\u2029]/.test(h);
    expect(results).toEqual(hostile.map(h => [true, true, true, lineBreak(h)]));
    const long = await dryRun({ ...VALUES, description: 'x'.repeat(301) });
    expect(long.body.errors.map((e: any) => e.stack)).toEqual([
      'instance.description does not meet maximum length of 300',
    ]);
  });

  it('creates the agent for real: published, registered, valid, and its own test passes', async () => {
    await eventually(async () => {
      const r = await request(server)
        .get('/api/catalog/entities/by-name/template/default/new-agent')
        .set('Authorization', AUTH);
      return r.status === 200 ? true : undefined;
    }, 'the template in the catalog');

    const task = await runTask(VALUES);
    if (task.status !== 'completed') {
      const messages = task.events.map((e: any) => e.body.message);
      throw new Error(`task ${task.status}: ${messages.join('\n')}`);
    }

    const target = path.join(publishDir.path, 'weather-reporter');
    expect(fs.readdirSync(target).sort()).toEqual(SKELETON_FILES);

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
    const second = await runTask({
      ...VALUES,
      description: 'A second one that must not win.',
    });
    expect(second.status).toBe('failed');
    expect(JSON.stringify(second.events)).toContain(
      'already exists; choose another name',
    );
    expect(
      YAML.parse(
        fs.readFileSync(path.join(target, 'catalog-info.yaml'), 'utf8'),
      ).metadata.description,
    ).toBe(VALUES.description);
  });
});
