#!/usr/bin/env bash
# Provides a local PostgreSQL server for the test suite and prints the
# connection string. Installs Debian's postgresql package if it is missing
# (needs root, as on CI and the dev machines), starts the cluster, and sets a
# password for the `postgres` role on loopback.
#
#   eval "$(scripts/postgres.sh)"   # exports BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING
set -euo pipefail

PG_PASSWORD="${AGENT_PLATFORM_PG_PASSWORD:-agentplatform}"
log() { echo "[postgres] $*" >&2; }

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  if [ "$(id -u)" != "0" ]; then
    log "PostgreSQL is not installed and this is not root; install it with: sudo apt-get install postgresql"
    exit 1
  fi
  log "installing postgresql from Debian's packages"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi

read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n1)
if [ -z "${version:-}" ]; then
  log "no PostgreSQL cluster found"
  exit 1
fi
if [ "$status" != "online" ]; then
  log "starting cluster $version/$cluster on port $port"
  pg_ctlcluster "$version" "$cluster" start >&2
fi
for _ in $(seq 1 30); do
  if su postgres -c "psql -p $port -qAtc 'select 1'" >/dev/null 2>&1; then break; fi
  sleep 1
done
su postgres -c "psql -p $port -qc \"ALTER USER postgres PASSWORD '$PG_PASSWORD'\"" >/dev/null
echo "export BACKSTAGE_TEST_DATABASE_POSTGRES${version}_CONNECTION_STRING=postgresql://postgres:${PG_PASSWORD}@127.0.0.1:${port}"
