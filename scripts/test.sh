#!/usr/bin/env bash
# Runs every test of the repository on a fresh machine:
#   1. provisions Node 22 + Yarn 4 and the packages (scripts/install.sh),
#   2. installs and starts what the tests meet for real: PostgreSQL and Chromium
#      from Debian's packages, a Kubernetes control plane built from Go modules
#      (scripts/k8s/),
#   3. type-checks and lints, runs the jest suites (unit, SQLite + PostgreSQL,
#      Kubernetes integration) and the Playwright end-to-end tests in Chromium,
#   4. ends with one line: `tests: N passed, N failed, N skipped`.
# Exit status is non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
RESULTS="$ROOT/node_modules/.cache/test-results"
log() { echo "[test] $*" >&2; }
section_start=0
begin() { section_start=$(date +%s); log "== $* =="; }
end() { log "   ($(($(date +%s) - section_start))s)"; }

# --- system packages ----------------------------------------------------------
need=()
command -v pg_lsclusters >/dev/null 2>&1 || need+=(postgresql)
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || need+=(chromium)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
if [ ${#need[@]} -gt 0 ]; then
  begin "apt-get install ${need[*]}"
  if [ "$(id -u)" != 0 ]; then
    log "missing system packages (${need[*]}) and not root: install them with sudo apt-get install ${need[*]}"
    exit 1
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}") >&2 || {
    log "apt-get install failed"
    exit 1
  }
  end
fi

# The first build of the Kubernetes binaries takes ~30 min on 2 cores (cached
# afterwards, see docs/kubernetes-test-control-plane.md): start it now, beside
# the package install; up.sh below waits for it through build.sh's lock.
mkdir -p "$ROOT/.data"
k8s_build_log="$ROOT/.data/k8s-build.log"
k8s_build_pid=""
if [ -f scripts/k8s/build.sh ]; then
  log "building/reusing the Kubernetes binaries in the background (log: $k8s_build_log)"
  AGENT_PLATFORM_K8S_KUBECTL=0 bash scripts/k8s/build.sh >"$k8s_build_log" 2>&1 &
  k8s_build_pid=$!
fi

# --- toolchain and packages ---------------------------------------------------
begin "toolchain and packages"
# shellcheck source=scripts/install.sh
. scripts/install.sh || exit 1
end
rm -rf "$RESULTS" && mkdir -p "$RESULTS"

# --- services -----------------------------------------------------------------
begin "PostgreSQL"
pg_env="$(bash scripts/postgres.sh)" || { log "PostgreSQL did not start"; exit 1; }
eval "$pg_env"
end

k8s_started=0
if [ -f scripts/k8s/up.sh ]; then
  begin "Kubernetes test control plane"
  if [ -n "$k8s_build_pid" ] && ! wait "$k8s_build_pid"; then
    log "building the Kubernetes binaries failed; last lines of $k8s_build_log:"
    tail -n 30 "$k8s_build_log" >&2
  fi
  # One retry after a clean stop: a first start on a loaded machine can lose a
  # component (the failed attempt's logs are kept, see up.sh).
  if bash scripts/k8s/up.sh >&2 || { log "retrying the Kubernetes control plane start"; bash scripts/k8s/down.sh >&2; bash scripts/k8s/up.sh >&2; }; then
    eval "$(bash scripts/k8s/env.sh)"
    k8s_started=1
  else
    # The integration tests then fail with a clear message (they never skip in CI).
    log "the Kubernetes control plane did not start"
  fi
  end
fi
cleanup() {
  if [ "$k8s_started" = 1 ] && [ -z "${AGENT_PLATFORM_KEEP_K8S:-}" ]; then bash scripts/k8s/down.sh >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# --- checks -------------------------------------------------------------------
checks_passed=0 checks_failed=0
check() { # name cmd...
  local name="$1"
  shift
  begin "$name"
  if "$@" >"$RESULTS/$name.log" 2>&1; then
    checks_passed=$((checks_passed + 1))
  else
    checks_failed=$((checks_failed + 1))
    log "FAILED: $name (last lines of $RESULTS/$name.log):"
    tail -n 40 "$RESULTS/$name.log" >&2
  fi
  end
}
check typecheck yarn tsc
check lint yarn lint:all

# --- tests --------------------------------------------------------------------
begin "jest (unit, SQLite + PostgreSQL, Kubernetes integration)"
CI=true yarn backstage-cli repo test --ci --json --outputFile="$RESULTS/jest.json" >&2
end

begin "end-to-end (Playwright in Chromium)"
CI=true PLAYWRIGHT_JSON_OUTPUT_NAME="$RESULTS/e2e.json" yarn playwright test --reporter=list,json >&2
end

node scripts/test-summary.js "$RESULTS" "$checks_passed" "$checks_failed"
