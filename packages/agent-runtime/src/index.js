'use strict';
/**
 * The Agent Platform runtime and SDK. Agent code uses `defineAgent`; the
 * platform runs `bin/agent-runtime.js run <agentDir>`.
 */
const {
  defineAgent,
  ToolDeniedError,
  SecretMissingError,
  ToolError,
} = require('./sdk');
const {
  RUNTIME_EVENT_TAG,
  RUNTIME_EXIT_CODES,
  parseRuntimeEventLine,
} = require('./wire');
const { isHostAllowed } = require('./tools');

module.exports = {
  defineAgent,
  ToolDeniedError,
  SecretMissingError,
  ToolError,
  RUNTIME_EVENT_TAG,
  RUNTIME_EXIT_CODES,
  parseRuntimeEventLine,
  isHostAllowed,
};
