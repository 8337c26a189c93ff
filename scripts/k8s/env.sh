#!/usr/bin/env bash
# Prints the shell line that points kubectl and @kubernetes/client-node at the running test
# control plane: eval "$(bash scripts/k8s/env.sh)"  (or: eval "$(yarn -s k8s:env)").
# Fails (exit 1, message on stderr) when it is not running; start it with scripts/k8s/up.sh.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! k8s_running; then
  k8s_log "control plane '$K8S_NAME' is not running; start it with: yarn k8s:up (scripts/k8s/up.sh)"
  exit 1
fi
echo "export KUBECONFIG=$K8S_KUBECONFIG"
