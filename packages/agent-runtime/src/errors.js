'use strict';
/*
 * Errors the runtime throws inside the agent. Each carries the runtime error
 * code (contracts.ts RuntimeErrorCode) the run ends with if the agent lets it
 * propagate.
 */

/** A tool the run was not granted, or a use the grant does not allow. */
class ToolDeniedError extends Error {
  constructor(tool, message) {
    super(message);
    this.name = 'ToolDeniedError';
    this.code = 'tool-denied';
    this.tool = tool;
  }
}

/** A secret the run was not given. */
class SecretMissingError extends Error {
  constructor(name) {
    super(`secret not provided: ${name}`);
    this.name = 'SecretMissingError';
    this.code = 'secret-missing';
    this.secretName = name;
  }
}

/** A tool call that reached its service and failed (bad status, bad body). */
class ToolError extends Error {
  constructor(tool, message) {
    super(message);
    this.name = 'ToolError';
    this.tool = tool;
  }
}

module.exports = { ToolDeniedError, SecretMissingError, ToolError };
