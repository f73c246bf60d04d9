#!/usr/bin/env bash
# Installs, from Debian's packages, what `make test` needs and is missing.
# Idempotent; quiet when everything is present.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have openssl || need+=(openssl)
have curl || need+=(curl)
have git || need+=(git)
# PostgreSQL server binaries (scripts/postgres-test.sh starts the cluster).
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
# HAProxy in front of the cluster tests' replicas (internal/clustertest);
# Debian installs it in /usr/sbin, which a user's PATH may lack.
have haproxy || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
# Headless Chromium and a font for the browser tests of internal/web/ui.
have chromium || have chromium-browser || need+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)

if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq "${need[@]}" >&2
fi
