#!/usr/bin/env node
'use strict';
// The runtime's entrypoint: `agent-runtime run <agentDir>` (see ../README.md).
require('../src/cli').main(process.argv.slice(2));
