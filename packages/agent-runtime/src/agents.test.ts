/*
 * Every example agent in catalog/agents runs through the real runtime binary
 * to its expected result, with the input checked against its entity's
 * spec.input and the result against spec.output (as the platform does).
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import {
  createSchemaAjv,
  validateAgentEntity,
  AgentEntity,
} from '@internal/plugin-agents-common';
import {
  eventsOf,
  lastEvent,
  runRuntime,
  startServer,
  writeSecrets,
} from './testing';

const AGENTS_DIR = path.resolve(__dirname, '../../../catalog/agents');

function loadAgent(name: string): { dir: string; entity: AgentEntity } {
  const dir = path.join(AGENTS_DIR, name);
  const entity = YAML.parse(
    fs.readFileSync(path.join(dir, 'catalog-info.yaml'), 'utf8'),
  );
  return { dir, entity: validateAgentEntity(entity) };
}

/** Runs an agent as the platform would for this input; checks the input against spec.input first. */
async function runExample(
  name: string,
  input: Record<string, unknown>,
  env: Record<string, string> = {},
  tools: Array<{ name: string; allowHosts?: string[] }> = [],
) {
  const { dir, entity } = loadAgent(name);
  const validateInput = createSchemaAjv().compile(entity.spec.input);
  if (!validateInput(input)) {
    throw new Error(
      `test input does not match ${name}'s spec.input: ${JSON.stringify(
        validateInput.errors,
      )}`,
    );
  }
  return runRuntime(dir, {
    env: {
      AGENT_REF: `agent:default/${name}`,
      AGENT_VERSION: entity.spec.version,
      AGENT_ENTRYPOINT: entity.spec.runtime.entrypoint,
      AGENT_INPUT: JSON.stringify(input),
      AGENT_TOOLS: JSON.stringify(tools),
      ...(entity.spec.output
        ? { AGENT_OUTPUT_SCHEMA: JSON.stringify(entity.spec.output) }
        : {}),
      ...env,
    },
  });
}

const TEXT = [
  'The platform team shipped a new agent runtime this week.',
  'The runtime runs every agent with only the tools and secrets it was granted.',
  'Lunch was pizza.',
  'Each agent run writes structured events that the platform reads to track the run.',
  'It rained in the afternoon.',
  'Agents that exceed their time are stopped by the runtime and reported as timed out.',
].join(' ');

describe('example agents through the runtime', () => {
  it('every agent folder has a valid entity whose entrypoint exists and whose declared tools match the code', () => {
    const names = fs
      .readdirSync(AGENTS_DIR)
      .filter(n =>
        fs.existsSync(path.join(AGENTS_DIR, n, 'catalog-info.yaml')),
      );
    expect(names.sort()).toEqual([
      'always-fails',
      'catalog-health',
      'data-profiler',
      'http-fetcher',
      'llm-assistant',
      'sentiment-preview',
      'slow-counter',
      'summarizer',
    ]);
    for (const name of names) {
      const { dir, entity } = loadAgent(name);
      expect(
        fs.existsSync(path.join(dir, entity.spec.runtime.entrypoint)),
      ).toBe(true);
      const code = fs.readFileSync(
        path.join(dir, entity.spec.runtime.entrypoint),
        'utf8',
      );
      const used = ['http', 'llm', 'catalog'].filter(t =>
        code.includes(`ctx.tools.${t}`),
      );
      expect({ name, tools: [...(entity.spec.tools ?? [])].sort() }).toEqual({
        name,
        tools: used.sort(),
      });
    }
  });

  it('summarizer: keeps the best-scoring sentences in their original order', async () => {
    const run = await runExample('summarizer', { text: TEXT, sentences: 2 });
    expect(run.code).toBe(0);
    const { summary, sentences } = lastEvent(run).result;
    expect(sentences).toBe(2);
    expect(summary).toBe(
      'The platform team shipped a new agent runtime this week. The runtime runs every agent with only the tools and secrets it was granted.',
    );
    expect(summary).not.toMatch(/pizza|rained/);
  });

  it('summarizer: a text shorter than asked comes back whole', async () => {
    const run = await runExample('summarizer', {
      text: 'Only one sentence here.',
    });
    expect(lastEvent(run).result).toEqual({
      summary: 'Only one sentence here.',
      sentences: 1,
    });
  });

  it('data-profiler: profiles CSV with quoting and nulls', async () => {
    const data =
      'name,age,city\n"Lovelace, Ada",36,London\nGrace,85,\nAlan,41,London\n';
    const run = await runExample('data-profiler', { format: 'csv', data });
    expect(run.code).toBe(0);
    expect(lastEvent(run).result).toEqual({
      rows: 3,
      columns: [
        { name: 'name', type: 'string', nulls: 0, distinct: 3 },
        {
          name: 'age',
          type: 'number',
          nulls: 0,
          distinct: 3,
          min: 36,
          max: 85,
          mean: 54,
        },
        { name: 'city', type: 'string', nulls: 1, distinct: 1 },
      ],
    });
  });

  it('data-profiler: profiles JSON and rejects a non-array', async () => {
    const run = await runExample('data-profiler', {
      format: 'json',
      data: '[{"ok":true,"n":1},{"ok":false,"n":2.5}]',
    });
    expect(lastEvent(run).result).toEqual({
      rows: 2,
      columns: [
        { name: 'ok', type: 'boolean', nulls: 0, distinct: 2 },
        {
          name: 'n',
          type: 'number',
          nulls: 0,
          distinct: 2,
          min: 1,
          max: 2.5,
          mean: 1.75,
        },
      ],
    });
    const bad = await runExample('data-profiler', {
      format: 'json',
      data: '{"not":"rows"}',
    });
    expect(bad.code).toBe(1);
    expect(lastEvent(bad)).toMatchObject({
      code: 'agent-error',
      message: 'JSON data must be an array of objects',
    });
  });

  it('catalog-health: reads the catalog through the catalog tool and lists problems', async () => {
    const token = 'per-run-catalog-token';
    const catalog = await startServer((req, res) => {
      const kinds = new URL(req.url, 'http://x').searchParams
        .getAll('filter')
        .map(f => f.replace('kind=', ''));
      const all = [
        {
          kind: 'Component',
          metadata: { name: 'good', description: 'fine' },
          spec: { owner: 'team', lifecycle: 'production' },
        },
        { kind: 'Component', metadata: { name: 'bare' }, spec: {} },
        {
          kind: 'Agent',
          metadata: { name: 'nodesc', namespace: 'ml' },
          spec: { owner: 'team', lifecycle: 'x' },
        },
        { kind: 'Group', metadata: { name: 'ignored' }, spec: {} },
      ];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          items: all.filter(e => kinds.includes(e.kind)),
          pageInfo: {},
        }),
      );
    });
    try {
      const run = await runExample(
        'catalog-health',
        { kinds: ['Component', 'Agent'] },
        {
          AGENT_CATALOG_BASE_URL: `${catalog.url}/api/catalog`,
          AGENT_CATALOG_TOKEN: token,
        },
        [{ name: 'catalog' }],
      );
      expect(run.code).toBe(0);
      expect(lastEvent(run).result).toEqual({
        checked: 3,
        problems: [
          {
            entity: 'component:default/bare',
            problems: [
              'missing description',
              'missing owner',
              'missing lifecycle',
            ],
          },
          { entity: 'agent:ml/nodesc', problems: ['missing description'] },
        ],
      });
      expect(catalog.requests[0].headers.authorization).toBe(`Bearer ${token}`);
      expect(run.stdout).not.toContain(token);
    } finally {
      await catalog.close();
    }
  });

  it('catalog-health: without the catalog grant the run ends tool-denied', async () => {
    const run = await runExample('catalog-health', {});
    expect(run.code).toBe(7);
    expect(eventsOf(run, 'tool-denied')).toHaveLength(1);
  });

  it('http-fetcher: fetches an allowed URL and reports status, type, size and title', async () => {
    const html =
      '<html><head><title> Agent Platform </title></head><body>hi</body></html>';
    const site = await startServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end(html),
    );
    try {
      const run = await runExample(
        'http-fetcher',
        { url: `${site.url}/` },
        {},
        [{ name: 'http', allowHosts: ['127.0.0.1'] }],
      );
      expect(run.code).toBe(0);
      expect(lastEvent(run).result).toEqual({
        status: 200,
        contentType: 'text/html',
        bytes: html.length,
        title: 'Agent Platform',
      });
      const denied = await runExample(
        'http-fetcher',
        { url: `${site.url}/` },
        {},
        [{ name: 'http', allowHosts: ['example.com'] }],
      );
      expect(denied.code).toBe(7);
      expect(site.requests).toHaveLength(1);
    } finally {
      await site.close();
    }
  });

  it('llm-assistant: fails with "secret not provided" without its key', async () => {
    const run = await runExample(
      'llm-assistant',
      { question: 'What is KWOK?' },
      {},
      [{ name: 'llm' }],
    );
    expect(run.code).toBe(6);
    expect(lastEvent(run)).toMatchObject({
      code: 'secret-missing',
      message: 'secret not provided: OPENAI_API_KEY',
    });
  });

  it('llm-assistant: answers through the llm tool with its key, never printing it', async () => {
    const key = 'sk-live-0123456789abcdef';
    const llm = await startServer((req, res) => {
      const body = JSON.parse(req.body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          choices: [
            { message: { content: `You asked: ${body.messages[1].content}` } },
          ],
        }),
      );
    });
    try {
      const run = await runExample(
        'llm-assistant',
        { question: 'What is KWOK?' },
        {
          AGENT_LLM_BASE_URL: `${llm.url}/v1`,
          AGENT_LLM_MODEL: 'gpt-test',
          AGENT_SECRETS_DIR: writeSecrets({ OPENAI_API_KEY: key }),
        },
        [{ name: 'llm' }],
      );
      expect(run.code).toBe(0);
      expect(lastEvent(run).result).toEqual({
        answer: 'You asked: What is KWOK?',
      });
      expect(llm.requests[0].headers.authorization).toBe(`Bearer ${key}`);
      expect(JSON.parse(llm.requests[0].body)).toMatchObject({
        model: 'gpt-test',
        temperature: 0.2,
      });
      expect(run.stdout).not.toContain(key);
    } finally {
      await llm.close();
    }
  });

  it('slow-counter: reports progress every step, and is stopped by its timeout', async () => {
    const run = await runExample('slow-counter', { steps: 4, intervalMs: 10 });
    expect(run.code).toBe(0);
    expect(eventsOf(run, 'progress').map(e => [e.percent, e.message])).toEqual([
      [25, 'step 1 of 4'],
      [50, 'step 2 of 4'],
      [75, 'step 3 of 4'],
      [100, 'step 4 of 4'],
    ]);
    expect(lastEvent(run).result).toEqual({ counted: 4 });

    const slow = await runExample(
      'slow-counter',
      { steps: 100, intervalMs: 100 },
      { AGENT_TIMEOUT_SECONDS: '0.5' },
    );
    expect(slow.code).toBe(124);
    expect(lastEvent(slow)).toMatchObject({ code: 'timeout' });
  });

  it('always-fails: logs, then fails with its message (agent-error, exit 1)', async () => {
    const run = await runExample('always-fails', {
      message: 'planned failure',
    });
    expect(run.code).toBe(1);
    expect(eventsOf(run, 'log')[0]).toMatchObject({
      level: 'info',
      message: 'about to fail on purpose',
    });
    expect(lastEvent(run)).toMatchObject({
      type: 'error',
      code: 'agent-error',
      message: 'planned failure',
    });
  });

  it('sentiment-preview: scores positive, negative and neutral texts', async () => {
    const labels = [];
    for (const text of [
      'I love this great fast tool',
      'awful slow broken build',
      'the meeting is at noon',
    ]) {
      const run = await runExample('sentiment-preview', { text });
      expect(run.code).toBe(0);
      labels.push(lastEvent(run).result.label);
    }
    expect(labels).toEqual(['positive', 'negative', 'neutral']);
  });
});
