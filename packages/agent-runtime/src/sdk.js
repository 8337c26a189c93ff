'use strict';
/*
 * The SDK for agent authors: `defineAgent` checks the definition once and
 * returns it frozen; the runtime reads `handler`, `secrets` (checked before the
 * handler runs) and, for tooling, `input`, `output` and `tools`.
 */
const { KNOWN_TOOLS } = require('./tools');
const { ToolDeniedError, SecretMissingError, ToolError } = require('./errors');

function defineAgent(definition) {
  if (!definition || typeof definition !== 'object') {
    throw new TypeError(
      'defineAgent: expected an object { handler, input?, output?, tools?, secrets? }',
    );
  }
  const { handler, tools = [], secrets = [] } = definition;
  if (typeof handler !== 'function') {
    throw new TypeError(
      'defineAgent: handler must be a function (input, ctx) => result',
    );
  }
  if (!Array.isArray(tools) || tools.some(t => !KNOWN_TOOLS.includes(t))) {
    throw new TypeError(
      `defineAgent: tools must be a list of ${KNOWN_TOOLS.join(', ')}`,
    );
  }
  if (
    !Array.isArray(secrets) ||
    secrets.some(s => typeof s !== 'string' || !s)
  ) {
    throw new TypeError('defineAgent: secrets must be a list of secret names');
  }
  for (const key of ['input', 'output']) {
    if (
      definition[key] !== undefined &&
      (typeof definition[key] !== 'object' || definition[key] === null)
    ) {
      throw new TypeError(`defineAgent: ${key} must be a JSON Schema object`);
    }
  }
  return Object.freeze({
    ...definition,
    tools: [...tools],
    secrets: [...secrets],
  });
}

module.exports = {
  defineAgent,
  ToolDeniedError,
  SecretMissingError,
  ToolError,
};
