#!/usr/bin/env bash
# Provisions the toolchain (Node 22 + Yarn 4, see scripts/toolchain.sh) and
# installs the workspace's packages when yarn.lock or a package.json changed
# since the last install. Source it: `. scripts/install.sh`.
_ap_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/toolchain.sh
. "$_ap_root/scripts/toolchain.sh" || return 1 2>/dev/null || exit 1

_ap_install_key() {
  (cd "$_ap_root" && cat yarn.lock package.json packages/*/package.json plugins/*/package.json 2>/dev/null; node --version) | sha256sum | cut -d' ' -f1
}
_ap_stamp="$_ap_root/node_modules/.agent-platform-install"
if [ ! -f "$_ap_stamp" ] || [ "$(cat "$_ap_stamp")" != "$(_ap_install_key)" ]; then
  echo "[install] installing packages (yarn install)" >&2
  if [ -n "${CI:-}" ]; then _ap_flags=(--immutable); else _ap_flags=(); fi
  (cd "$_ap_root" && yarn install "${_ap_flags[@]}") >&2 || { echo "[install] yarn install failed" >&2; return 1 2>/dev/null || exit 1; }
  _ap_install_key >"$_ap_stamp"
fi
unset _ap_flags
