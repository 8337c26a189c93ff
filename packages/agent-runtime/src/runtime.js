'use strict';
/*
 * Runs one invocation of an agent inside this process, configured only by
 * environment variables (see README.md), and reports it as JSON-line events on
 * stdout. The process exits with the code of how the run ended.
 */
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { pathToFileURL } = require('node:url');
const { Redactor } = require('./redact');
const { createToolsProxy } = require('./tools');
const { SecretMissingError, ToolDeniedError } = require('./errors');
const { RUNTIME_EVENT_TAG, RUNTIME_EXIT_CODES } = require('./wire');
const {
  RunFailure,
  parseJsonEnv,
  positiveNumber,
  readInput,
  readSecrets,
  readTools,
} = require('./settings');

const DEFAULT_MAX_RESULT_BYTES = 1024 * 1024;
const DEFAULT_HEARTBEAT_SECONDS = 10;
const MAX_LOG_MESSAGE_CHARS = 16 * 1024;

function resolveEntrypoint(agentDir, env) {
  let entry = env.AGENT_ENTRYPOINT;
  if (!entry) {
    entry = 'index.js';
    try {
      const pkg = JSON.parse(
        fs.readFileSync(path.join(agentDir, 'package.json'), 'utf8'),
      );
      if (typeof pkg.main === 'string' && pkg.main) entry = pkg.main;
    } catch {
      // no package.json: index.js
    }
  }
  const file = path.resolve(agentDir, entry);
  const rel = path.relative(agentDir, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new RunFailure(
      'load-error',
      `AGENT_ENTRYPOINT "${entry}" points outside the agent folder`,
    );
  }
  return file;
}

const SDK_PACKAGE = '@internal/agent-runtime';

/**
 * Agents `require('@internal/agent-runtime')` for the SDK. Where their folder
 * cannot resolve it (an image's /agent, a published folder), it resolves to
 * this runtime's own copy.
 */
function provideSdk(agentDir) {
  try {
    require.resolve(SDK_PACKAGE, { paths: [agentDir] });
    return;
  } catch {
    // not resolvable from the agent: provide ours
  }
  const Module = require('node:module');
  // This package runs unbundled (plain node, in images too), so __dirname is its real folder.
  // eslint-disable-next-line no-restricted-syntax
  const ownIndex = path.join(__dirname, 'index.js');
  const original = Module._resolveFilename;
  Module._resolveFilename = function resolveFilename(request, ...rest) {
    if (request === SDK_PACKAGE) return ownIndex;
    return original.call(this, request, ...rest);
  };
}

async function loadModule(file) {
  if (!fs.existsSync(file)) {
    throw new RunFailure(
      'load-error',
      `the agent entrypoint ${file} does not exist`,
    );
  }
  try {
    if (file.endsWith('.mjs')) return await import(pathToFileURL(file).href);
    try {
      return require(file);
    } catch (e) {
      if (
        e &&
        (e.code === 'ERR_REQUIRE_ESM' || e.code === 'ERR_REQUIRE_ASYNC_MODULE')
      ) {
        return await import(pathToFileURL(file).href);
      }
      throw e;
    }
  } catch (e) {
    throw new RunFailure(
      'load-error',
      `the agent module failed to load: ${e && e.stack ? e.stack : e}`,
    );
  }
}

/** Finds the agent in a module: `defineAgent(...)` default export, `module.exports = { handler }`, or a bare function. */
function resolveAgent(mod) {
  const candidates = [
    mod,
    mod && mod.default,
    mod && mod.default && mod.default.default,
  ];
  for (const c of candidates) {
    if (c && typeof c === 'object' && typeof c.handler === 'function') return c;
    if (typeof c === 'function') return { handler: c };
  }
  throw new RunFailure(
    'load-error',
    'the agent module exports no handler: use `module.exports = { handler }` or `export default defineAgent({ handler })`',
  );
}

function compileOutputSchema(schema) {
  const Ajv = require('ajv');
  const addFormats = require('ajv-formats');
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  try {
    return ajv.compile(schema);
  } catch (e) {
    throw new RunFailure(
      'load-error',
      `AGENT_OUTPUT_SCHEMA is not a valid JSON Schema: ${e.message}`,
    );
  }
}

function describeSchemaErrors(errors) {
  return (errors || [])
    .map(
      e =>
        `${e.instancePath || '<root>'} ${e.message}${
          e.params && e.params.additionalProperty
            ? ` (${e.params.additionalProperty})`
            : ''
        }`,
    )
    .join('; ');
}

/**
 * Runs the agent in `agentDir` as configured by `env`; never returns (the
 * process exits when the run ends).
 */
async function runAgent(agentDir, env = process.env) {
  const rawStdoutWrite = process.stdout.write.bind(process.stdout);
  const redactor = new Redactor();
  if (env.AGENT_CATALOG_TOKEN) redactor.add(env.AGENT_CATALOG_TOKEN);
  if (env.AGENT_EGRESS_CREDENTIAL) redactor.add(env.AGENT_EGRESS_CREDENTIAL);

  let finished = false;
  // Set when the run is being stopped (timeout, SIGTERM): whatever the agent
  // does after the abort, the run ends as a timeout.
  let terminating;
  const timers = [];
  const controller = new AbortController();
  const pending = { stdout: '', stderr: '' };

  function emit(event) {
    const line = JSON.stringify({
      tag: RUNTIME_EVENT_TAG,
      ...redactor.value({ ...event, ts: new Date().toISOString() }),
    });
    rawStdoutWrite(`${line}\n`);
  }
  function log(level, message) {
    let text = String(message);
    if (text.length > MAX_LOG_MESSAGE_CHARS)
      text = `${text.slice(0, MAX_LOG_MESSAGE_CHARS)}... [truncated]`;
    emit({ type: 'log', level, message: text });
  }
  function flushCaptured() {
    for (const [stream, level] of [
      ['stdout', 'info'],
      ['stderr', 'error'],
    ]) {
      if (pending[stream]) {
        log(level, pending[stream]);
        pending[stream] = '';
      }
    }
  }
  function finish(code, event) {
    if (finished) return;
    finished = true;
    for (const t of timers) {
      clearTimeout(t);
      clearInterval(t);
    }
    flushCaptured();
    if (event) emit(event);
    // stdout may be a socket or pipe whose writes are still queued (a reader
    // slower than a chatty agent): exit once they are all out, or the last
    // lines, the result among them, would be lost.
    const exitCode = RUNTIME_EXIT_CODES[code];
    process.exitCode = exitCode;
    rawStdoutWrite('', () => process.exit(exitCode));
  }
  function fail(code, message) {
    if (terminating)
      finish('timeout', {
        type: 'error',
        code: 'timeout',
        message: terminating,
      });
    else finish(code, { type: 'error', code, message: String(message) });
  }
  function terminate(message) {
    if (terminating || finished) return;
    terminating = message;
    controller.abort(new Error(message));
    // Abort listeners ran synchronously; one turn later the run ends.
    setImmediate(() => fail('timeout', message));
  }
  function failFromError(e) {
    if (terminating) return fail('timeout', terminating);
    if (e instanceof RunFailure) return fail(e.code, e.message);
    let code = 'agent-error';
    if (e instanceof ToolDeniedError) code = 'tool-denied';
    else if (e instanceof SecretMissingError) code = 'secret-missing';
    if (e && e.stack && code === 'agent-error') log('debug', e.stack);
    return fail(code, e && e.message !== undefined ? e.message : String(e));
  }

  // Everything the agent prints becomes `log` events; stdout carries events only.
  const capture = (stream, level) => (chunk, encoding, cb) => {
    const text =
      typeof chunk === 'string'
        ? chunk
        : Buffer.from(chunk).toString(
            typeof encoding === 'string' ? encoding : 'utf8',
          );
    const lines = (pending[stream] + text).split('\n');
    pending[stream] = lines.pop();
    for (const l of lines) log(level, l);
    const done = typeof encoding === 'function' ? encoding : cb;
    if (done) process.nextTick(done);
    return true;
  };
  process.stdout.write = capture('stdout', 'info');
  process.stderr.write = capture('stderr', 'error');
  const consoleLevels = {
    log: 'info',
    info: 'info',
    debug: 'debug',
    trace: 'debug',
    warn: 'warn',
    error: 'error',
  };
  for (const [method, level] of Object.entries(consoleLevels)) {
    // eslint-disable-next-line no-console
    console[method] = (...args) => log(level, util.format(...args));
  }

  const onSignal = signal =>
    terminate(`the run was terminated by ${signal} (cancelled or out of time)`);
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('unhandledRejection', reason => {
    fail(
      'agent-error',
      `unhandled promise rejection: ${
        reason && reason.message !== undefined
          ? reason.message
          : util.inspect(reason)
      }`,
    );
  });
  process.on('uncaughtException', err => {
    fail(
      'agent-error',
      `uncaught exception: ${
        err && err.message !== undefined ? err.message : util.inspect(err)
      }`,
    );
  });
  process.on('beforeExit', () => {
    fail(
      'agent-error',
      "the agent's handler never settled: its promise was still pending when nothing was left to run",
    );
  });

  try {
    const absDir = path.resolve(agentDir || '.');
    const timeoutSeconds = positiveNumber(
      env,
      'AGENT_TIMEOUT_SECONDS',
      undefined,
    );
    const maxResultBytes = positiveNumber(
      env,
      'AGENT_MAX_RESULT_BYTES',
      DEFAULT_MAX_RESULT_BYTES,
    );
    const heartbeatSeconds = positiveNumber(
      env,
      'AGENT_HEARTBEAT_SECONDS',
      DEFAULT_HEARTBEAT_SECONDS,
    );
    const grants = readTools(env);
    const secrets = readSecrets(env);
    for (const value of secrets.values()) redactor.add(value);

    emit({
      type: 'started',
      agent: env.AGENT_REF || path.basename(absDir),
      ...(env.AGENT_VERSION ? { version: env.AGENT_VERSION } : {}),
      tools: grants.map(g => g.name),
    });

    const heartbeat = setInterval(
      () => emit({ type: 'heartbeat' }),
      heartbeatSeconds * 1000,
    );
    heartbeat.unref();
    timers.push(heartbeat);
    if (timeoutSeconds) {
      const t = setTimeout(
        () => terminate(`the run exceeded its timeout of ${timeoutSeconds}s`),
        timeoutSeconds * 1000,
      );
      t.unref();
      timers.push(t);
    }

    const input = readInput(env);
    const validateOutput = env.AGENT_OUTPUT_SCHEMA
      ? compileOutputSchema(
          parseJsonEnv(env, 'AGENT_OUTPUT_SCHEMA', 'load-error'),
        )
      : undefined;

    const secretsApi = Object.freeze({
      get: name => secrets.get(name),
      has: name => secrets.has(name),
      require: name => {
        if (!secrets.has(name)) throw new SecretMissingError(name);
        return secrets.get(name);
      },
      names: () => [...secrets.keys()],
    });
    const tools = createToolsProxy({
      grants,
      env,
      secrets: secretsApi,
      signal: controller.signal,
      onDenied: (tool, message) => emit({ type: 'tool-denied', tool, message }),
    });
    const ctxLog = (...args) => log('info', util.format(...args));
    ctxLog.debug = (...args) => log('debug', util.format(...args));
    ctxLog.info = ctxLog;
    ctxLog.warn = (...args) => log('warn', util.format(...args));
    ctxLog.error = (...args) => log('error', util.format(...args));
    const ctx = Object.freeze({
      executionId: env.AGENT_EXECUTION_ID,
      agent: Object.freeze({ ref: env.AGENT_REF, version: env.AGENT_VERSION }),
      input,
      secrets: secretsApi,
      tools,
      signal: controller.signal,
      log: ctxLog,
      progress(percent, message) {
        const p = Number(percent);
        if (!Number.isFinite(p))
          throw new TypeError(
            `ctx.progress: percent must be a number, got ${util.inspect(
              percent,
            )}`,
          );
        emit({
          type: 'progress',
          percent: Math.max(0, Math.min(100, Math.round(p * 100) / 100)),
          ...(message !== undefined ? { message: String(message) } : {}),
        });
      },
    });

    provideSdk(absDir);
    const agent = resolveAgent(
      await loadModule(resolveEntrypoint(absDir, env)),
    );
    for (const name of Array.isArray(agent.secrets) ? agent.secrets : []) {
      if (!secrets.has(name)) throw new SecretMissingError(name);
    }

    const returned = await agent.handler(input, ctx);
    if (finished) return undefined;
    if (terminating) return fail('timeout', terminating);
    const result = returned === undefined ? null : returned;
    let serialized;
    try {
      serialized = JSON.stringify(result);
    } catch (e) {
      throw new RunFailure(
        'invalid-output',
        `the result is not JSON-serializable: ${e.message}`,
      );
    }
    if (serialized === undefined) {
      throw new RunFailure(
        'invalid-output',
        `the result is not JSON-serializable (${typeof result})`,
      );
    }
    const bytes = Buffer.byteLength(serialized);
    if (bytes > maxResultBytes) {
      throw new RunFailure(
        'result-too-large',
        `the result is ${bytes} bytes, more than the limit of ${maxResultBytes} bytes`,
      );
    }
    const plain = JSON.parse(serialized);
    if (validateOutput && !validateOutput(plain)) {
      throw new RunFailure(
        'invalid-output',
        `the result does not match the output schema: ${describeSchemaErrors(
          validateOutput.errors,
        )}`,
      );
    }
    return finish('success', { type: 'result', result: plain });
  } catch (e) {
    return failFromError(e);
  }
}

module.exports = { runAgent, resolveAgent };
