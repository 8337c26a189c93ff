# syntax=docker/dockerfile:1
#
# The image of one agent: the runtime base image plus the agent's code in
# /agent. Build context: the agent's folder (catalog-info.yaml, index.js,
# package.json).
#
#   docker build -f agent.Dockerfile -t registry.example.com/agents/<name>:<version> .
#
# The base image's entrypoint runs `agent-runtime run /agent`; the platform
# configures each run with AGENT_* environment variables. `require('@internal/agent-runtime')`
# (the SDK) resolves to the runtime's own copy, so agents need not bundle it.
ARG AGENT_RUNTIME_IMAGE=registry.example.com/agent-platform/agent-runtime:0.1.0

FROM node:22-slim AS build
WORKDIR /agent
COPY . .
# Production dependencies of the agent, if it has any; tests stay out of the image.
RUN if [ -f package-lock.json ]; then npm ci --omit=dev --ignore-scripts --no-audit --no-fund; fi \
 && rm -rf test tests ./*.test.js Dockerfile .git

FROM ${AGENT_RUNTIME_IMAGE}
COPY --from=build --chown=0:0 /agent /agent
