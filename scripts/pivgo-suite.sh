#!/usr/bin/env bash
# pivgo-suite.sh — run piv-go's own upstream test suite against a fresh
# Lanyard emulated card in the real pcscd: a conformance check written by
# people who know nothing of Lanyard. Used by `make test`:
#
#   LANYARD_TEST_VPCD=$(scripts/pcscd-test.sh) scripts/pivgo-suite.sh
#
# It attaches `lanyard card emulate` (a throwaway state file) to the vpcd
# slot LANYARD_TEST_VPCD, holding the slot lock vpcdtest.Lock uses, waits
# until pcscd lists the card, runs
#   go test github.com/go-piv/piv-go/v2/piv -args -wipe-yubikey
# (the version in go.mod), removes the card and exits with the suite's
# status after a one-line summary.
#
# piv-go's tests use the first reader whose name contains "yubikey"
# (pcscd-test.sh names Lanyard's readers "... YubiKey-compatible PIV") and
# wipe that card. So that a real YubiKey is never wiped, this script
# refuses to run when any other reader's name contains "yubikey", or when
# the emulator's reader is not the first one.
#
# Skipped, for reasons outside the emulator (LANYARD_PIVGO_SKIP overrides;
# set it empty to run everything):
#   TestYubiKeyX25519ECDH         X25519 is not implemented in the emulator,
#                                 and the test has no version check
#   TestYubiKeyAttestation        piv.Verify trusts only Yubico's roots; the
#                                 emulator's attestations chain to its own CA
#   TestSetRSAPrivateKey/rsa_512  Go refuses 512-bit RSA keys client-side
set -euo pipefail

log() { printf 'pivgo-suite: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

cd "$(dirname "$0")/.."
GO=${GO:-go}
ADDR=${LANYARD_TEST_VPCD:-}
[ -n "$ADDR" ] || die "LANYARD_TEST_VPCD is not set: run as root: LANYARD_TEST_VPCD=\$(scripts/pcscd-test.sh) $0"
PORT=${ADDR##*:}
[[ "$PORT" =~ ^[0-9]+$ ]] || die "LANYARD_TEST_VPCD=$ADDR is not host:port"
SKIP=${LANYARD_PIVGO_SKIP-'^TestYubiKeyX25519ECDH$|^TestYubiKeyAttestation$|^TestSetRSAPrivateKey$/^rsa_512$'}
for tool in flock opensc-tool setsid; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/card-deps.sh; flock and setsid are in util-linux)"
done

# readers prints pcscd's readers, one a line: "Yes|No<TAB>name".
readers() {
	opensc-tool --list-readers 2>/dev/null |
		sed -nE 's/^[0-9]+[[:space:]]+(Yes|No)[[:space:]]+(.*[^[:space:]])[[:space:]]*$/\1\t\2/p'
}

# Our reader: slot n of the entry with base port B listens on B+n, as in
# vpcdtest.Reader; pcscd names it "Lanyard vpcd B YubiKey-compatible PIV
# II SS" (reader index and slot in hex).
READER=""
re='^Lanyard vpcd ([0-9]+) YubiKey-compatible PIV [0-9A-F]{2} ([0-9A-F]{2})$'
while IFS= read -r name; do
	if [[ "$name" =~ $re ]] && [ $((BASH_REMATCH[1] + 16#${BASH_REMATCH[2]})) -eq "$PORT" ]; then
		READER=$name
		break
	fi
done < <(readers | cut -f2)
[ -n "$READER" ] || die "pcscd has no \"Lanyard vpcd ... YubiKey-compatible PIV\" reader for port $PORT; run scripts/pcscd-test.sh"
first_yk=$(readers | cut -f2 | grep -i yubikey | head -n 1)
others=$(readers | cut -f2 | grep -i yubikey | grep -v '^Lanyard vpcd ' || true)
[ -z "$others" ] || die "a reader other than Lanyard's has \"YubiKey\" in its name; piv-go's suite would wipe that card: $others"
[ "$first_yk" = "$READER" ] || die "piv-go's suite uses the first YubiKey reader, \"$first_yk\", not ours, \"$READER\"; use slot 0 (the port pcscd-test.sh prints)"

# The slot lock of vpcdtest.Lock (os.TempDir()/lanyard-vpcd-PORT.lock).
LOCK=${TMPDIR:-/tmp}/lanyard-vpcd-$PORT.lock
exec 9>>"$LOCK"
if ! flock -n 9; then
	log "waiting for another test process to release vpcd slot $ADDR ($LOCK)"
	flock -w 600 9 || die "vpcd slot $ADDR still in use after 10 minutes ($LOCK)"
fi

DIR=$(mktemp -d)
EMU_PID=""
cleanup() {
	if [ -n "$EMU_PID" ]; then
		kill -TERM -- "-$EMU_PID" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 -- "-$EMU_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$EMU_PID" 2>/dev/null || true
		# Wait until pcscd saw the card go, so the next user of the slot
		# does not meet it.
		for _ in $(seq 1 50); do
			readers | grep -qxF "$(printf 'Yes\t%s' "$READER")" || break
			sleep 0.1
		done
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The emulator, in its own process group (setsid) so that cleanup stops
# `go run` and the program it built; fd 9 (the lock) is not handed down.
log "attaching a fresh emulated card to $ADDR ($READER)"
LANYARD_CARD_PASSPHRASE=pivgo-suite-throwaway setsid "$GO" run ./cmd/lanyard card emulate \
	--vpcd "$ADDR" --state "$DIR/card.state" >"$DIR/emulate.log" 2>&1 9>&- &
EMU_PID=$!
for i in $(seq 1 1200); do
	readers | grep -qxF "$(printf 'Yes\t%s' "$READER")" && break
	if ! kill -0 "$EMU_PID" 2>/dev/null || [ "$i" -eq 1200 ]; then
		cat "$DIR/emulate.log" >&2
		die "pcscd does not show the emulated card in \"$READER\""
	fi
	sleep 0.1
done

log "running piv-go's suite (skip: ${SKIP:-nothing})"
args=(test -count=1 -v github.com/go-piv/piv-go/v2/piv)
[ -z "$SKIP" ] || args+=(-skip "$SKIP")
status=0
"$GO" "${args[@]}" -args -wipe-yubikey >"$DIR/suite.log" 2>&1 9>&- || status=$?

count() { grep -cE "^[[:space:]]*--- $1: " "$DIR/suite.log" || true; }
version=$(awk '$1 == "github.com/go-piv/piv-go/v2" { print $2 }' go.mod)
summary="piv-go ${version:-?} suite: $(count PASS) passed, $(count SKIP) skipped by piv-go, $(count FAIL) failed (top-level and sub-tests); excluded: ${SKIP:-none}"
if [ "$status" -ne 0 ]; then
	cat "$DIR/suite.log" >&2
	echo "FAIL $summary"
else
	echo "ok   $summary"
fi
exit "$status"
