#!/usr/bin/env bash
# build-deps.sh — installs, from Debian's packages, the C headers the
# lanyard binary is compiled against when they are missing: PC/SC
# (libpcsclite-dev, for the agent's readers) and OpenSSL's libcrypto
# (libssl-dev, for the in-process TPM 2.0 simulator of the demo's
# workstation). `make run` and `make build` call it first.
#
# Idempotent; prints nothing when everything is present. Uses sudo when not
# run as root.
set -euo pipefail
need=()
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
[ -e /usr/include/PCSC/winscard.h ] || need+=(libpcsclite-dev)
[ -e /usr/include/openssl/evp.h ] || need+=(libssl-dev)
[ ${#need[@]} -eq 0 ] && exit 0
echo "build-deps: installing ${need[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
