'use strict';
/*
 * `agent-runtime run <agentDir>`: with no options, runs the agent in this
 * process from the AGENT_* environment (what the platform does). With local
 * options (--input, --grant, --secret, ...) it builds that environment, starts
 * itself as a child process exactly like the platform's executor and
 * pretty-prints the events.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const { parseRuntimeEventLine, RUNTIME_EXIT_CODES } = require('./wire');

const USAGE = `Usage:
  agent-runtime run <agentDir>
      Run one invocation configured by AGENT_* environment variables (the platform's way).
  agent-runtime run <agentDir> [--input FILE | --input-json JSON] [--grant http,llm,catalog]
                    [--allow-host HOST]... [--secret NAME=VALUE]... [--secrets-dir DIR]
                    [--timeout SECONDS] [--output-schema FILE] [--raw]
      Run it locally exactly as the platform would (child process, same environment
      contract) and pretty-print the events. Reads <agentDir>/catalog-info.yaml, when
      present, for the entrypoint, version and output schema. --raw prints the JSON lines.
Exit code: how the run ended (0 success, 1 agent-error, 2 invalid-input, 3 invalid-output,
  4 result-too-large, 5 load-error, 6 secret-missing, 7 tool-denied, 124 timeout).`;

// This package runs unbundled (plain node, in images too), so __dirname is its real folder.
const RUNTIME_BIN = path.join(__dirname, '..', 'bin', 'agent-runtime.js'); // eslint-disable-line no-restricted-syntax

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = {
    grants: [],
    allowHosts: [],
    secrets: [],
    local: false,
    raw: false,
  };
  const positional = [];
  const needValue = (i, flag) => {
    if (i + 1 >= argv.length || argv[i + 1].startsWith('--'))
      throw new UsageError(`${flag} needs a value`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const [flag, inline] = a.includes('=') ? a.split(/=(.*)/s) : [a, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const v = needValue(i, flag);
      i++;
      return v;
    };
    opts.local = true;
    switch (flag) {
      case '--input':
        opts.inputFile = value();
        break;
      case '--input-json':
        opts.inputJson = value();
        break;
      case '--grant':
        opts.grants.push(
          ...value()
            .split(',')
            .map(s => s.trim())
            .filter(Boolean),
        );
        break;
      case '--allow-host':
        opts.allowHosts.push(
          ...value()
            .split(',')
            .map(s => s.trim())
            .filter(Boolean),
        );
        break;
      case '--secret': {
        const v = value();
        const eq = v.indexOf('=');
        if (eq <= 0) throw new UsageError('--secret expects NAME=VALUE');
        opts.secrets.push([v.slice(0, eq), v.slice(eq + 1)]);
        break;
      }
      case '--secrets-dir':
        opts.secretsDir = value();
        break;
      case '--timeout':
        opts.timeout = value();
        break;
      case '--output-schema':
        opts.outputSchemaFile = value();
        break;
      case '--raw':
        opts.raw = true;
        break;
      case '--pretty':
        break;
      case '--help':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  }
  return { positional, opts };
}

function readCatalogInfo(agentDir) {
  const file = path.join(agentDir, 'catalog-info.yaml');
  if (!fs.existsSync(file)) return undefined;
  const YAML = require('yaml');
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map(d =>
    d.toJSON(),
  );
  return docs.find(d => d && d.kind === 'Agent');
}

function formatEvent(e, t0) {
  const secs = ((Date.parse(e.ts) - t0) / 1000).toFixed(2).padStart(6);
  switch (e.type) {
    case 'started':
      return `${secs}s started   ${e.agent}${
        e.version ? `@${e.version}` : ''
      } tools=[${(e.tools || []).join(', ')}]`;
    case 'heartbeat':
      return `${secs}s heartbeat`;
    case 'progress':
      return `${secs}s progress  ${String(e.percent).padStart(3)}%${
        e.message ? ` ${e.message}` : ''
      }`;
    case 'log':
      return `${secs}s log       ${e.level.padEnd(5)} ${e.message}`;
    case 'tool-denied':
      return `${secs}s DENIED    ${e.tool}: ${e.message}`;
    case 'result':
      return `${secs}s result\n${JSON.stringify(e.result, null, 2)}`;
    case 'error':
      return `${secs}s ERROR     ${e.code}: ${e.message}`;
    default:
      return `${secs}s ${JSON.stringify(e)}`;
  }
}

/** Local mode: build the platform's environment, spawn the runtime, print its events. */
async function runLocal(agentDir, opts) {
  const absDir = path.resolve(agentDir);
  if (!fs.existsSync(absDir) || !fs.statSync(absDir).isDirectory()) {
    throw new UsageError(`agent folder not found: ${agentDir}`);
  }
  const entity = readCatalogInfo(absDir);
  const spec = (entity && entity.spec) || {};
  let input = '{}';
  if (opts.inputJson !== undefined) input = opts.inputJson;
  else if (opts.inputFile) input = fs.readFileSync(opts.inputFile, 'utf8');
  let outputSchema;
  if (opts.outputSchemaFile)
    outputSchema = fs.readFileSync(opts.outputSchemaFile, 'utf8');
  else if (spec.output) outputSchema = JSON.stringify(spec.output);

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-run-'));
  let secretsDir = opts.secretsDir && path.resolve(opts.secretsDir);
  if (opts.secrets.length) {
    secretsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-secrets-'));
    fs.chmodSync(secretsDir, 0o700);
    for (const [name, value] of opts.secrets) {
      if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('.'))
        throw new UsageError(`invalid secret name: ${name}`);
      fs.writeFileSync(path.join(secretsDir, name), value, { mode: 0o600 });
    }
  }
  const cleanup = () => {
    fs.rmSync(scratch, { recursive: true, force: true });
    if (opts.secrets.length && secretsDir)
      fs.rmSync(secretsDir, { recursive: true, force: true });
  };

  const grantsAsked = Array.isArray(spec.tools) ? spec.tools : [];
  const missing = grantsAsked.filter(t => !opts.grants.includes(t));
  if (missing.length && !opts.raw) {
    process.stderr.write(
      `note: catalog-info.yaml asks for tools ${missing.join(
        ', ',
      )}; pass --grant ${missing.join(',')} to grant them\n`,
    );
  }
  const env = {
    ...process.env,
    AGENT_EXECUTION_ID: process.env.AGENT_EXECUTION_ID || `local-${Date.now()}`,
    AGENT_REF: entity
      ? `agent:${entity.metadata.namespace || 'default'}/${
          entity.metadata.name
        }`
      : `agent:default/${path.basename(absDir)}`,
    AGENT_INPUT: input,
    AGENT_TOOLS: JSON.stringify(
      opts.grants.map(name =>
        name === 'http' ? { name, allowHosts: opts.allowHosts } : { name },
      ),
    ),
  };
  delete env.AGENT_INPUT_FILE;
  if (spec.version) env.AGENT_VERSION = String(spec.version);
  if (spec.runtime && spec.runtime.entrypoint && !process.env.AGENT_ENTRYPOINT)
    env.AGENT_ENTRYPOINT = spec.runtime.entrypoint;
  if (outputSchema) env.AGENT_OUTPUT_SCHEMA = outputSchema;
  if (secretsDir) env.AGENT_SECRETS_DIR = secretsDir;
  else delete env.AGENT_SECRETS_DIR;
  if (opts.timeout) env.AGENT_TIMEOUT_SECONDS = String(opts.timeout);
  else if (
    spec.resources &&
    spec.resources.timeoutSeconds &&
    !env.AGENT_TIMEOUT_SECONDS
  ) {
    env.AGENT_TIMEOUT_SECONDS = String(spec.resources.timeoutSeconds);
  }

  const child = spawn(process.execPath, [RUNTIME_BIN, 'run', absDir], {
    cwd: scratch,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const forward = sig => child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const t0 = Date.now();
  const rl = readline.createInterface({ input: child.stdout });
  rl.on('line', line => {
    if (opts.raw) {
      process.stdout.write(`${line}\n`);
      return;
    }
    const e = parseRuntimeEventLine(line);
    process.stdout.write(`${e ? formatEvent(e, t0) : line}\n`);
  });
  const code = await new Promise(resolve =>
    child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 1))),
  );
  cleanup();
  if (!opts.raw) {
    const name =
      Object.keys(RUNTIME_EXIT_CODES).find(
        k => RUNTIME_EXIT_CODES[k] === code,
      ) || 'unknown';
    process.stderr.write(`exit ${code} (${name})\n`);
  }
  return code;
}

async function main(argv) {
  let parsed;
  try {
    if (argv[0] !== 'run')
      throw new UsageError(
        argv[0] && argv[0] !== 'help' && argv[0] !== '--help'
          ? `unknown command ${argv[0]}`
          : '',
      );
    parsed = parseArgs(argv.slice(1));
    if (parsed.positional.length !== 1)
      throw new UsageError('expected exactly one agent folder');
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(
      `${e.message ? `agent-runtime: ${e.message}\n\n` : ''}${USAGE}\n`,
    );
    process.exit(e.message ? 64 : 0);
  }
  const [agentDir] = parsed.positional;
  if (!parsed.opts.local) {
    await require('./runtime').runAgent(agentDir, process.env);
    return;
  }
  try {
    process.exit(await runLocal(agentDir, parsed.opts));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`agent-runtime: ${e.message}\n`);
    process.exit(64);
  }
}

module.exports = { main, parseArgs };
