#!/usr/bin/env bash
# Starts (or reuses) a real Kubernetes control plane on 127.0.0.1 for tests and local use:
# etcd, kube-apiserver (RBAC + Node authorization, PodSecurity admission), kube-controller-manager
# (all controllers: job, ttl-after-finished, garbage collector, namespace, service accounts...),
# kube-scheduler and KWOK (fake nodes whose pods go Pending -> Running -> Succeeded, or Failed on
# request, with fake container logs). Binaries come from build.sh (built once, cached by version).
#
# Idempotent: when this instance already runs and answers, it only prints the kubeconfig path.
# Concurrent callers (parallel test workers) are serialized by a lock file.
#
# Usage: scripts/k8s/up.sh    env: see lib.sh; AGENT_PLATFORM_K8S_NODES (default 2);
#   AGENT_PLATFORM_K8S_KUBECTL=1 also builds kubectl (build.sh alone builds it by default)
# Prints the kubeconfig path as the last stdout line; progress goes to stderr.
# State (certs, kubeconfigs, etcd data, logs, pids): $AGENT_PLATFORM_CACHE/k8s/run/<name>
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NODES="${AGENT_PLATFORM_K8S_NODES:-2}"
T0="$(date +%s.%N)"
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

for tool in openssl curl flock awk; do
  command -v "$tool" >/dev/null 2>&1 || { k8s_log "ERROR: $tool is required"; exit 1; }
done

mkdir -p "$K8S_RUN_ROOT"
exec 8>"$K8S_LOCK"
flock 8

if k8s_running; then
  k8s_log "control plane '$K8S_NAME' already running on https://127.0.0.1:$APISERVER_PORT ($(elapsed)s)"
  echo "$K8S_KUBECONFIG"
  exit 0
fi

if [ -d "$K8S_STATE" ]; then
  k8s_log "removing stale state of '$K8S_NAME' (some component is not running)"
  k8s_stop_and_clean
fi

# --- binaries ----------------------------------------------------------------------------------
# Nothing here needs kubectl: skip its build (minutes on a cold machine) unless asked for.
BIN="$(AGENT_PLATFORM_K8S_KUBECTL="${AGENT_PLATFORM_K8S_KUBECTL:-0}" bash "$K8S_SCRIPTS/build.sh" | tail -n 1)"
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
  [ -x "$BIN/$b" ] || { k8s_log "ERROR: $BIN/$b missing after build.sh"; exit 1; }
done

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $APISERVER_PORT $ETCD_CLIENT_PORT $ETCD_PEER_PORT $KCM_PORT $SCHEDULER_PORT $KWOK_PORT; do
  if port_in_use "$p"; then
    k8s_log "ERROR: 127.0.0.1:$p is already in use; pick other ports with AGENT_PLATFORM_K8S_PORT_BASE (now $PORT_BASE)"
    exit 1
  fi
done

# From here on, a failure leaves nothing running behind.
started=0
on_exit() {
  if [ "$started" = 0 ]; then
    k8s_log "start failed; last log lines:"
    for f in "$K8S_STATE"/logs/*.log; do
      [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
    done
    cp -r "$K8S_STATE/logs" "$K8S_RUN_ROOT/$K8S_NAME-failed-logs" 2>/dev/null || true
    k8s_stop_and_clean
    k8s_log "logs kept in $K8S_RUN_ROOT/$K8S_NAME-failed-logs"
  fi
}
trap on_exit EXIT

mkdir -p "$K8S_STATE"/{pki,logs,pids,etcd,pod-logs}
chmod 700 "$K8S_STATE"
PKI="$K8S_STATE/pki"

# --- certificates ------------------------------------------------------------------------------
k8s_log "generating certificates"
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
  -subj "/CN=agentplatform-test-ca" -keyout "$PKI/ca.key" -out "$PKI/ca.crt" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
# name subject usage [sans]
issue() {
  local ext="$PKI/$1.ext"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$3"
    [ -z "${4:-}" ] || echo "subjectAltName=$4"
  } >"$ext"
  ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$2" \
    -keyout "$PKI/$1.key" -out "$PKI/$1.csr"
  ossl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -extfile "$ext" -out "$PKI/$1.crt"
  rm -f "$PKI/$1.csr" "$ext"
}
SERVING_SANS="IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
issue apiserver "/CN=kube-apiserver" serverAuth "$SERVING_SANS"
issue kubelet "/CN=kwok-kubelet" serverAuth "IP:127.0.0.1,DNS:localhost"
issue admin "/O=system:masters/CN=agentplatform-admin" clientAuth
issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
issue kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
issue kube-scheduler "/CN=system:kube-scheduler" clientAuth
issue kwok "/O=system:masters/CN=kwok-controller" clientAuth
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key"
ossl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
# A static bearer token for tools that prefer one (same rights as the admin certificate).
ADMIN_TOKEN="$(openssl rand -hex 24)"
printf '%s' "$ADMIN_TOKEN" >"$PKI/admin.token"
echo "$ADMIN_TOKEN,agentplatform-admin-token,agentplatform-admin-token,system:masters" >"$PKI/tokens.csv"
chmod 600 "$PKI"/*

b64() { base64 -w0 <"$1"; }
# file user cert key
write_kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: agentplatform-$K8S_NAME
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$3")
    client-key-data: $(b64 "$4")
contexts:
- name: agentplatform-$K8S_NAME
  context:
    cluster: agentplatform-$K8S_NAME
    user: $2
current-context: agentplatform-$K8S_NAME
EOF
  chmod 600 "$1"
}
write_kubeconfig "$K8S_STATE/kube-controller-manager.kubeconfig" kube-controller-manager "$PKI/kube-controller-manager.crt" "$PKI/kube-controller-manager.key"
write_kubeconfig "$K8S_STATE/kube-scheduler.kubeconfig" kube-scheduler "$PKI/kube-scheduler.crt" "$PKI/kube-scheduler.key"
write_kubeconfig "$K8S_STATE/kwok.kubeconfig" kwok "$PKI/kwok.crt" "$PKI/kwok.key"
# The kubeconfig for people, kubectl and @kubernetes/client-node; written last (below) so that
# its presence means "ready".
write_kubeconfig "$K8S_STATE/kubeconfig.tmp" agentplatform-admin "$PKI/admin.crt" "$PKI/admin.key"

# --- processes ---------------------------------------------------------------------------------
# name binary args... ; detached (own session) so the control plane outlives the caller, e.g. a
# jest worker; down.sh stops it.
# The pid file is written only once the forked shell has become the component: its
# executable is the component's binary AND its command line (what k8s_pid checks) names the
# state dir. Both are needed: until the exec, /proc/<pid>/cmdline is this script's or
# setsid's; during the exec the kernel points /proc/<pid>/exe at the new binary before the
# new argv is in place, so for a moment the cmdline reads empty. Either one alone let
# alive() report a live component as exited with an empty log.
start() {
  local name="$1" bin="$2" pid i
  shift 2
  setsid "$bin" "$@" >"$K8S_STATE/logs/$name.log" 2>&1 </dev/null 8>&- &
  pid=$!
  for ((i = 0; i < 1200; i++)); do
    if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$bin")" ] &&
      tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$K8S_STATE/"; then
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "$pid" >"$K8S_STATE/pids/$name"
}
# what seconds cmd...
wait_for() {
  local what="$1" secs="$2" i
  shift 2
  for ((i = 0; i < secs * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  k8s_log "ERROR: timed out after ${secs}s waiting for $what"
  return 1
}
alive() { [ -n "$(k8s_pid "$1")" ]; }
wait_alive() { # name seconds check...
  local name="$1" secs="$2" i
  shift 2
  for ((i = 0; i < secs * 5; i++)); do
    if ! alive "$name"; then
      local pid rc=0
      pid="$(cat "$K8S_STATE/pids/$name" 2>/dev/null)"
      # A child of this shell: its exit status says how it ended.
      if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || rc=$?; fi
      k8s_log "ERROR: $name exited (pid ${pid:-?}, status $rc, command line: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120))"
      return 1
    fi
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  k8s_log "ERROR: timed out after ${secs}s waiting for $name"
  return 1
}

k8s_log "starting etcd on 127.0.0.1:$ETCD_CLIENT_PORT"
start etcd "$BIN/etcd" \
  --name=agentplatform --data-dir="$K8S_STATE/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="agentplatform=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync --auto-compaction-retention=1 --quota-backend-bytes=2147483648 \
  --log-level=warn
wait_alive etcd 30 curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

k8s_log "starting kube-apiserver on https://127.0.0.1:$APISERVER_PORT"
start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
  --endpoint-reconciler-type=none \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NodeRestriction \
  --allow-privileged=true \
  --service-cluster-ip-range=10.96.0.0/16 \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP \
  --profiling=false --v=1
wait_alive kube-apiserver 120 k8s_apiserver_ready
k8s_log "kube-apiserver ready ($(elapsed)s)"

# The API calls below use curl with the admin certificate, so kubectl is not needed.
api() { # method path [yaml-body-file]
  local args=(-fsS --max-time 20 -A agentplatform-up.sh --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" -X "$1")
  [ -z "${3:-}" ] || args+=(-H 'Content-Type: application/yaml' --data-binary "@$3")
  curl "${args[@]}" "https://127.0.0.1:$APISERVER_PORT$2"
}

k8s_log "installing KWOK Logs/ClusterLogs CRDs and $NODES fake node(s)"
mkdir -p "$K8S_STATE/manifests"
awk -v dir="$K8S_STATE/manifests" '/^---/ { n++; next } !/^#/ { print > (dir "/crd-" n ".yaml") }' \
  "$K8S_SCRIPTS/kwok/crds.yaml"
for f in "$K8S_STATE"/manifests/crd-*.yaml; do
  api POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions "$f" >/dev/null
done
for ((n = 0; n < NODES; n++)); do
  cat >"$K8S_STATE/manifests/node-$n.yaml" <<EOF
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$n
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-node-$n
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
status:
  allocatable:
    cpu: "32"
    memory: 256Gi
    pods: "110"
  capacity:
    cpu: "32"
    memory: 256Gi
    pods: "110"
EOF
  api POST /api/v1/nodes "$K8S_STATE/manifests/node-$n.yaml" >/dev/null
done
wait_for "the KWOK Logs CRD" 30 api GET /apis/kwok.x-k8s.io/v1alpha1/logs
wait_for "the KWOK ClusterLogs CRD" 30 api GET /apis/kwok.x-k8s.io/v1alpha1/clusterlogs

k8s_log "starting kube-controller-manager, kube-scheduler and kwok"
start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig="$K8S_STATE/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig="$K8S_STATE/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig="$K8S_STATE/kube-controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --controllers='*' --use-service-account-credentials=true \
  --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --service-cluster-ip-range=10.96.0.0/16 \
  --leader-elect=false --kube-api-qps=200 --kube-api-burst=400 --v=1
start kube-scheduler "$BIN/kube-scheduler" \
  --kubeconfig="$K8S_STATE/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig="$K8S_STATE/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig="$K8S_STATE/kube-scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" \
  --leader-elect=false --kube-api-qps=200 --kube-api-burst=400 --v=1
start kwok "$BIN/kwok" \
  --kubeconfig="$K8S_STATE/kwok.kubeconfig" \
  --config="$K8S_SCRIPTS/kwok/stages.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-ip=127.0.0.1 --node-name=localhost --node-port="$KWOK_PORT" \
  --server-address="127.0.0.1:$KWOK_PORT" \
  --tls-cert-file="$PKI/kubelet.crt" --tls-private-key-file="$PKI/kubelet.key" \
  --enable-crds=Logs,ClusterLogs \
  --node-lease-duration-seconds=40

healthz() { curl -fsSk --max-time 2 "https://127.0.0.1:$1/healthz"; }
wait_alive kube-controller-manager 60 healthz "$KCM_PORT"
wait_alive kube-scheduler 60 healthz "$SCHEDULER_PORT"
nodes_ready() {
  [ "$(api GET '/api/v1/nodes?labelSelector=type%3Dkwok' | grep -o '"type":"Ready","status":"True"' | wc -l)" = "$NODES" ]
}
wait_alive kwok 60 nodes_ready
# The service-account controllers of kube-controller-manager: pods need the namespace's default
# ServiceAccount (admission) before they can be created.
wait_alive kube-controller-manager 60 api GET /api/v1/namespaces/default/serviceaccounts/default

mv "$K8S_STATE/kubeconfig.tmp" "$K8S_KUBECONFIG"
cat >"$K8S_STATE/env" <<EOF
export KUBECONFIG=$K8S_KUBECONFIG
EOF
started=1
k8s_log "control plane '$K8S_NAME' ready in $(elapsed)s: https://127.0.0.1:$APISERVER_PORT, $NODES kwok node(s)"
k8s_log "use it: export KUBECONFIG=$K8S_KUBECONFIG"
echo "$K8S_KUBECONFIG"
