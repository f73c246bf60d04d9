#!/usr/bin/env bash
# card-deps.sh — installs, from Debian's packages, what the smart-card tests
# need and is missing: pcscd with the vsmartcard vpcd driver (a virtual
# reader our emulated cards dial into), the independent clients the tests
# check the cards with (OpenSC, pcsc-tools, yubico-piv-tool), the PC/SC
# headers for cgo clients, SoftHSM2, the OpenSSL headers the TPM
# simulator is compiled against, NSS's certutil and pk12util (the
# software store imports its PKCS#12 into a user's NSS database),
# oathtool (the README's key recovery step) and OpenSSL's pkcs11 engine
# (curl signs in to the HTTPS listener with a card's key through it).
#
# Idempotent; prints nothing when everything is present. Uses sudo when not
# run as root. Progress goes to stderr so callers may capture stdout.
set -euo pipefail

# Each check looks for a file the package installs rather than asking dpkg,
# so a tool installed by other means also counts as present.
need=()
have() { command -v "$1" >/dev/null 2>&1; }
# lib_present reports whether a file matching the glob exists.
lib_present() { compgen -G "$1" >/dev/null; }

have pcscd || need+=(pcscd)
lib_present '/usr/lib/pcsc/drivers/serial/libifdvpcd.so*' || need+=(vsmartcard-vpcd)
have opensc-tool || need+=(opensc)
have pcsc_scan || need+=(pcsc-tools)
have yubico-piv-tool || need+=(yubico-piv-tool)
[ -e /usr/include/PCSC/winscard.h ] || need+=(libpcsclite-dev)
have softhsm2-util || need+=(softhsm2)
# The in-process TPM simulator (go-tpm-tools, internal/tpm) is C compiled
# with cgo against OpenSSL's libcrypto.
[ -e /usr/include/openssl/evp.h ] || need+=(libssl-dev)
# The software store's NSS import (internal/agent) and its tests.
have pk12util || need+=(libnss3-tools)
# The README's "A card's life" (scripts/try-it.sh) computes the demo
# user's authenticator code with oathtool, as a phone would.
have oathtool || need+=(oathtool)
# Smart card sign-in's end-to-end test (internal/e2e): curl --engine
# pkcs11 loads libp11's engine, which drives OpenSC's PKCS#11 module.
lib_present '/usr/lib/*/engines-3/pkcs11.so' || need+=(libengine-pkcs11-openssl)
have curl || need+=(curl)

[ ${#need[@]} -eq 0 ] && exit 0

echo "card-deps: installing ${need[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
# --no-install-recommends keeps out desktop helpers; policy-rc.d is not
# touched, so on a systemd host the pcscd socket unit may be enabled, which
# scripts/pcscd-test.sh copes with.
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
