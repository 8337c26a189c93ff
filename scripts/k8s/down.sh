#!/usr/bin/env bash
# Stops the test control plane started by up.sh and removes its state (certificates, etcd data,
# logs). Only processes recorded in this instance's pid files (and still running from its state
# dir) are stopped. The cached binaries stay. Safe to run when nothing runs.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$K8S_RUN_ROOT"
exec 8>"$K8S_LOCK"
flock 8
if [ -d "$K8S_STATE" ]; then
  k8s_stop_and_clean
  k8s_log "control plane '$K8S_NAME' stopped and its state removed"
else
  k8s_log "control plane '$K8S_NAME' is not running"
fi
rm -rf "$K8S_RUN_ROOT/$K8S_NAME-failed-logs"
