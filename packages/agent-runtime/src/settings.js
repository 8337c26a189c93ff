'use strict';
/*
 * What the runtime reads from its environment before the agent runs: the
 * input, the granted tools, the secrets folder and numeric settings. Every
 * problem is a RunFailure with the runtime error code it ends the run with.
 */
const fs = require('node:fs');
const path = require('node:path');

class RunFailure extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function positiveNumber(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    throw new RunFailure(
      'load-error',
      `${name} must be a positive number, got "${raw}"`,
    );
  }
  return n;
}

function parseJsonEnv(env, name, code) {
  try {
    return JSON.parse(env[name]);
  } catch (e) {
    throw new RunFailure(code, `${name} is not valid JSON: ${e.message}`);
  }
}

function readInput(env) {
  let input = {};
  if (env.AGENT_INPUT !== undefined && env.AGENT_INPUT !== '') {
    input = parseJsonEnv(env, 'AGENT_INPUT', 'invalid-input');
  } else if (env.AGENT_INPUT_FILE) {
    let text;
    try {
      text = fs.readFileSync(env.AGENT_INPUT_FILE, 'utf8');
    } catch (e) {
      throw new RunFailure(
        'invalid-input',
        `AGENT_INPUT_FILE cannot be read: ${e.message}`,
      );
    }
    try {
      input = JSON.parse(text);
    } catch (e) {
      throw new RunFailure(
        'invalid-input',
        `AGENT_INPUT_FILE is not valid JSON: ${e.message}`,
      );
    }
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new RunFailure('invalid-input', 'the input must be a JSON object');
  }
  return input;
}

function readTools(env) {
  if (!env.AGENT_TOOLS) return [];
  const tools = parseJsonEnv(env, 'AGENT_TOOLS', 'load-error');
  if (
    !Array.isArray(tools) ||
    tools.some(t => !t || typeof t.name !== 'string')
  ) {
    throw new RunFailure(
      'load-error',
      'AGENT_TOOLS must be a JSON array of { name, allowHosts? }',
    );
  }
  return tools;
}

/** Secrets: one file per secret in AGENT_SECRETS_DIR (a Kubernetes Secret volume or a private temp dir). */
function readSecrets(env) {
  const secrets = new Map();
  const dir = env.AGENT_SECRETS_DIR;
  if (!dir) return secrets;
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    // No folder (no Secret volume mounted): the run has no secrets.
    if (e.code === 'ENOENT') return secrets;
    throw new RunFailure(
      'load-error',
      `AGENT_SECRETS_DIR cannot be read: ${e.code || e.message}`,
    );
  }
  for (const name of names) {
    // Kubernetes volumes hold `..data` and timestamped dirs next to the keys.
    if (name.startsWith('.')) continue;
    const file = path.join(dir, name);
    try {
      if (!fs.statSync(file).isFile()) continue;
      // One trailing newline is an artefact of `echo > file`, not part of the value.
      secrets.set(name, fs.readFileSync(file, 'utf8').replace(/\r?\n$/, ''));
    } catch {
      // unreadable: treated as not provided
    }
  }
  return secrets;
}

module.exports = {
  RunFailure,
  parseJsonEnv,
  positiveNumber,
  readInput,
  readSecrets,
  readTools,
};
