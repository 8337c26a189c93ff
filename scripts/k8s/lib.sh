# Shared settings of scripts/k8s/{up,down,env}.sh. Sourced, not run.
#
# Env (all optional):
#   AGENT_PLATFORM_K8S_NAME       instance name (default "default"); one state dir per name
#   AGENT_PLATFORM_K8S_PORT_BASE  first of the loopback ports the instance uses (default 26400)
#   AGENT_PLATFORM_CACHE          cache root (default $HOME/.cache/agent-platform)
#   AGENT_PLATFORM_K8S_VERSION    Kubernetes version of the binaries (default v1.36.3, see build.sh)

K8S_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
K8S_NAME="${AGENT_PLATFORM_K8S_NAME:-default}"
case "$K8S_NAME" in *[!a-zA-Z0-9_-]* | '') echo "invalid AGENT_PLATFORM_K8S_NAME: $K8S_NAME" >&2; exit 2 ;; esac
K8S_CACHE_ROOT="${AGENT_PLATFORM_CACHE:-$HOME/.cache/agent-platform}"
K8S_RUN_ROOT="$K8S_CACHE_ROOT/k8s/run"
K8S_STATE="$K8S_RUN_ROOT/$K8S_NAME"
K8S_LOCK="$K8S_RUN_ROOT/$K8S_NAME.lock"
K8S_KUBECONFIG="$K8S_STATE/kubeconfig"

PORT_BASE="${AGENT_PLATFORM_K8S_PORT_BASE:-26400}"
case "$PORT_BASE" in *[!0-9]* | '') echo "invalid AGENT_PLATFORM_K8S_PORT_BASE: $PORT_BASE" >&2; exit 2 ;; esac
if [ "$PORT_BASE" -lt 1024 ] || [ "$PORT_BASE" -gt 65400 ]; then
  echo "AGENT_PLATFORM_K8S_PORT_BASE must be between 1024 and 65400 (the instance uses base+43..base+80)" >&2
  exit 2
fi
APISERVER_PORT=$((PORT_BASE + 43))
ETCD_CLIENT_PORT=$((PORT_BASE + 79))
ETCD_PEER_PORT=$((PORT_BASE + 80))
KCM_PORT=$((PORT_BASE + 57))
SCHEDULER_PORT=$((PORT_BASE + 59))
KWOK_PORT=$((PORT_BASE + 47))

# Start order; down.sh stops them in reverse.
K8S_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

k8s_log() { echo "[k8s] $*" >&2; }

# pid of a component of this instance if it is running, else empty. A pid file is trusted only
# when the process still runs and its command line names this instance's state dir, so a
# recycled pid never gets killed.
k8s_pid() {
  local f="$K8S_STATE/pids/$1" pid
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$K8S_STATE/"; then echo "$pid"; fi
}

# 0 when the apiserver of this instance answers /readyz with the admin identity.
k8s_apiserver_ready() {
  [ -f "$K8S_STATE/pki/admin.crt" ] || return 1
  curl -fsS --max-time 3 --cacert "$K8S_STATE/pki/ca.crt" \
    --cert "$K8S_STATE/pki/admin.crt" --key "$K8S_STATE/pki/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null 2>&1
}

# 0 when every component of this instance runs and the API is ready.
k8s_running() {
  local c
  for c in "${K8S_COMPONENTS[@]}"; do [ -n "$(k8s_pid "$c")" ] || return 1; done
  k8s_apiserver_ready
}

# Stops the processes of this instance (TERM, then KILL after 10 s) and removes its state.
k8s_stop_and_clean() {
  local c pid i pids=()
  for ((i = ${#K8S_COMPONENTS[@]} - 1; i >= 0; i--)); do
    c="${K8S_COMPONENTS[$i]}"
    pid="$(k8s_pid "$c")"
    if [ -n "$pid" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  for pid in "${pids[@]}"; do
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$K8S_STATE"
}
