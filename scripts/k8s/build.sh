#!/usr/bin/env bash
# Builds (or reuses) the binaries of a real Kubernetes control plane for tests:
# kube-apiserver, kube-controller-manager, kube-scheduler (and kubectl) from the
# k8s.io/kubernetes Go module, etcd from go.etcd.io/etcd/server/v3, and KWOK.
#
# Binaries are cached outside the repo, keyed by Kubernetes version:
#   ${AGENT_PLATFORM_CACHE:-$HOME/.cache/agent-platform}/k8s/<k8s-version>/bin
# A second run with everything cached returns in well under a second.
#
# `go install k8s.io/kubernetes/cmd/...@vX` and `go install go.etcd.io/etcd/server/v3@vX`
# are refused because those modules carry replace directives; we build them from
# throwaway modules (in the cache dir, never in the repo) that require the module
# and re-state the replacements with published versions.
#
# Env:
#   AGENT_PLATFORM_K8S_VERSION   (default v1.36.3)
#   AGENT_PLATFORM_ETCD_VERSION  (default v3.6.16)
#   AGENT_PLATFORM_KWOK_VERSION  (default v0.8.0)
#   AGENT_PLATFORM_K8S_KUBECTL   1 (default) also builds kubectl; 0 skips it
#   AGENT_PLATFORM_CACHE         cache root (default $HOME/.cache/agent-platform)
#   GO                           go binary (default: `go` on PATH, else /usr/local/go/bin/go)
# Prints the bin dir on stdout as its last line; progress and timings go to stderr.
set -euo pipefail

K8S_VERSION="${AGENT_PLATFORM_K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${AGENT_PLATFORM_ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${AGENT_PLATFORM_KWOK_VERSION:-v0.8.0}"
WITH_KUBECTL="${AGENT_PLATFORM_K8S_KUBECTL:-1}"
CACHE_ROOT="${AGENT_PLATFORM_CACHE:-$HOME/.cache/agent-platform}"
K8S_CACHE="$CACHE_ROOT/k8s/$K8S_VERSION"
BIN="$K8S_CACHE/bin"

log() { echo "[k8s-build] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s; }
T0="$(now)"

# --- what is already there ---------------------------------------------------
# A binary is current when it is executable and its stamp records the version
# (and build recipe) it was built from.
RECIPE=2  # bump when the build flags below change, to force a rebuild
stamp_of() { echo "$1 recipe=$RECIPE"; }
is_current() { # name expected-version
  [ -x "$BIN/$1" ] && [ -f "$BIN/.stamp-$1" ] && [ "$(cat "$BIN/.stamp-$1")" = "$(stamp_of "$2")" ]
}
mark() { stamp_of "$2" >"$BIN/.stamp-$1"; }

K8S_SERVER_BINS=(kube-apiserver kube-controller-manager kube-scheduler)
need_server=0 need_kubectl=0 need_etcd=0 need_kwok=0
for b in "${K8S_SERVER_BINS[@]}"; do is_current "$b" "$K8S_VERSION" || need_server=1; done
if [ "$WITH_KUBECTL" = 1 ]; then is_current kubectl "$K8S_VERSION" || need_kubectl=1; fi
is_current etcd "$ETCD_VERSION" || need_etcd=1
is_current kwok "$KWOK_VERSION" || need_kwok=1

if [ $((need_server + need_kubectl + need_etcd + need_kwok)) -eq 0 ]; then
  log "all binaries cached in $BIN ($(($(now) - T0))s)"
  echo "$BIN"
  exit 0
fi

# --- toolchain -----------------------------------------------------------------
if [ -z "${GO:-}" ]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"
  elif [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
  else die "no Go toolchain found (set GO=/path/to/go); Kubernetes ${K8S_VERSION} needs Go >= 1.26"
  fi
fi
log "using $("$GO" version)"
export CGO_ENABLED=0
# Never let a dependency's go.mod trigger a toolchain download.
export GOTOOLCHAIN=local
GOBUILD=(-trimpath)

mkdir -p "$BIN" "$K8S_CACHE/work"
# Serialize concurrent builds of the same version (two test runs starting at once).
exec 9>"$K8S_CACHE/.build.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi

# Staged output dir: binaries only appear in $BIN once fully built.
OUT="$(mktemp -d "$K8S_CACHE/work/out.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT

timed() { # label cmd...
  local label="$1" t
  shift
  t="$(now)"
  log "$label ..."
  "$@"
  log "$label done in $(($(now) - t))s"
}

# --- Kubernetes -------------------------------------------------------------------
k8s_module() {
  local dir="$K8S_CACHE/work/kubernetes" gomod staging sv replaces=() m
  rm -rf "$dir"
  mkdir -p "$dir"
  cd "$dir"
  "$GO" mod init agentplatform.local/k8s-build >/dev/null 2>&1
  gomod="$("$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$K8S_VERSION"
  # Every `k8s.io/X => ./staging/src/k8s.io/X` in kubernetes' go.mod is a staging
  # module, published separately as k8s.io/X v0.<minor>.<patch>.
  staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$gomod")"
  [ -n "$staging" ] || die "no staging replacements found in $gomod"
  sv="v0.${K8S_VERSION#v1.}"
  for m in $staging; do replaces+=("-replace=$m=$m@$sv"); done
  "$GO" mod edit "-require=k8s.io/kubernetes@$K8S_VERSION" "${replaces[@]}"
  log "throwaway module $dir: k8s.io/kubernetes@$K8S_VERSION + $(echo "$staging" | wc -l) staging replaces @$sv"
}

k8s_ldflags() {
  local minor="${K8S_VERSION#v1.}" date pkg f=(-s -w)
  minor="${minor%%.*}"
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=("-X" "$pkg.gitVersion=$K8S_VERSION" "-X" "$pkg.gitMajor=1" "-X" "$pkg.gitMinor=$minor"
      "-X" "$pkg.gitTreeState=clean" "-X" "$pkg.buildDate=$date")
  done
  echo "${f[*]}"
}

if [ "$need_server" = 1 ] || [ "$need_kubectl" = 1 ]; then
  timed "prepare k8s.io/kubernetes@$K8S_VERSION module" k8s_module
  cd "$K8S_CACHE/work/kubernetes"
  LDF="$(k8s_ldflags)"
  if [ "$need_server" = 1 ]; then
    pkgs=()
    for b in "${K8S_SERVER_BINS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
    timed "go build ${K8S_SERVER_BINS[*]}" \
      "$GO" build -mod=mod "${GOBUILD[@]}" -ldflags "$LDF" -o "$OUT/" "${pkgs[@]}"
    for b in "${K8S_SERVER_BINS[@]}"; do mv -f "$OUT/$b" "$BIN/$b" && mark "$b" "$K8S_VERSION"; done
  fi
  if [ "$need_kubectl" = 1 ]; then
    timed "go build kubectl" \
      "$GO" build -mod=mod "${GOBUILD[@]}" -ldflags "$LDF" -o "$OUT/kubectl" k8s.io/kubernetes/cmd/kubectl
    mv -f "$OUT/kubectl" "$BIN/kubectl" && mark kubectl "$K8S_VERSION"
  fi
fi

# --- etcd ---------------------------------------------------------------------------
if [ "$need_etcd" = 1 ]; then
  etcd_build() {
    local dir="$K8S_CACHE/work/etcd"
    rm -rf "$dir"
    mkdir -p "$dir"
    cd "$dir"
    "$GO" mod init agentplatform.local/etcd-build >/dev/null 2>&1
    # server/v3's own go.mod replaces api/client/pkg with ../ paths (ignored in a
    # dependency); its require lines name the matching published versions.
    "$GO" mod edit "-require=go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    "$GO" build -mod=mod "${GOBUILD[@]}" -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3
  }
  timed "go build etcd $ETCD_VERSION" etcd_build
  mv -f "$OUT/etcd" "$BIN/etcd" && mark etcd "$ETCD_VERSION"
fi

# --- KWOK -----------------------------------------------------------------------------
if [ "$need_kwok" = 1 ]; then
  timed "go install kwok $KWOK_VERSION" \
    env GOBIN="$OUT" "$GO" install "${GOBUILD[@]}" -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv -f "$OUT/kwok" "$BIN/kwok" && mark kwok "$KWOK_VERSION"
fi

log "versions:"
"$BIN/kube-apiserver" --version >&2 || true
"$BIN/etcd" --version 2>&1 | head -1 >&2 || true
"$BIN/kwok" --version >&2 2>&1 || true
log "done in $(($(now) - T0))s; binaries in $BIN"
echo "$BIN"
