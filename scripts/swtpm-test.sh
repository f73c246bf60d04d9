#!/usr/bin/env bash
# swtpm-test.sh — start a software TPM 2.0 (swtpm, Debian package swtpm)
# for the TPM tests and print its spec. Used by `make test`:
#
#   LANYARD_TEST_SWTPM=$(scripts/swtpm-test.sh) go test -tags integration ./internal/tpm/... ./internal/card/tpmkeys/...
#
# What it does, idempotently:
#   1. installs swtpm and swtpm-tools from Debian when missing (as
#      scripts/card-deps.sh does for the card tools);
#   2. stops the swtpm of an earlier run of this script (through its
#      control socket, else by its pid, only if that pid is swtpm);
#   3. starts one swtpm with a fresh TPM state in $STATE:
#        swtpm socket --tpm2 --tpmstate dir=$STATE/tpm
#          --server type=unixio,path=$STATE/tpm.sock
#          --ctrl type=unixio,path=$STATE/ctrl.sock
#          --flags not-need-init,startup-clear
#      (not-need-init: no CMD_INIT over the control channel;
#      startup-clear: swtpm sends TPM2_Startup(CLEAR) itself, so the TPM
#      is ready for commands, as a booted machine's TPM is);
#   4. waits until the control socket answers and the server socket
#      exists.
# The one line on stdout is swtpm:SOCKET, the spec tpm.Open takes; all
# progress goes to stderr. swtpm is left running; its log is $STATE/swtpm.log.
#
# One swtpm serves every test process; the tests take a lock
# (tpmtest.Lock) since swtpm, unlike /dev/tpmrm0, has no resource manager.
set -euo pipefail

log() { printf 'swtpm-test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

STATE=${LANYARD_SWTPM_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/lanyard/swtpm}
SOCK=$STATE/tpm.sock
CTRL=$STATE/ctrl.sock
PIDFILE=$STATE/swtpm.pid
LOG=$STATE/swtpm.log

# 1. Packages.
if ! command -v swtpm >/dev/null 2>&1 || ! command -v swtpm_ioctl >/dev/null 2>&1; then
	log "installing swtpm swtpm-tools"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >&2
	$sudo apt-get install -y -qq --no-install-recommends swtpm swtpm-tools >&2
fi
command -v swtpm >/dev/null 2>&1 || die "swtpm is not installed"

mkdir -p "$STATE"
chmod 700 "$STATE"

# 2. Stop an earlier instance.
if [ -S "$CTRL" ]; then
	swtpm_ioctl --unix "$CTRL" -s >/dev/null 2>&1 || true
fi
if [ -s "$PIDFILE" ]; then
	# The swtpm stopped just above removes its pid file as it exits.
	pid=$(cat "$PIDFILE" 2>/dev/null || true)
	if [ -n "$pid" ] && [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null || true)")" = swtpm ]; then
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			log "stopping swtpm (pid $pid)"
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -0 "$pid" 2>/dev/null && die "cannot stop swtpm (pid $pid)"
		fi
	fi
fi
rm -rf "$STATE/tpm" "$SOCK" "$CTRL" "$PIDFILE"
mkdir -m 700 "$STATE/tpm"

# 3. Start. --daemon returns once the sockets are set up.
log "starting swtpm (state $STATE/tpm, log $LOG)"
swtpm socket --tpm2 --tpmstate dir="$STATE/tpm" \
	--server type=unixio,path="$SOCK" --ctrl type=unixio,path="$CTRL" \
	--flags not-need-init,startup-clear \
	--pid file="$PIDFILE" --log file="$LOG" --daemon >&2 ||
	die "swtpm did not start (log: $LOG)"

# 4. Wait until it answers.
for i in $(seq 1 100); do
	# The pid file too: the daemon writes it after the sockets exist.
	if [ -S "$SOCK" ] && [ -s "$PIDFILE" ] && swtpm_ioctl --unix "$CTRL" -e >/dev/null 2>&1; then
		break
	fi
	[ "$i" -eq 100 ] && { tail -n 20 "$LOG" >&2 2>/dev/null || true; die "swtpm did not answer within 10s"; }
	sleep 0.1
done
log "swtpm (pid $(cat "$PIDFILE" 2>/dev/null || echo '?')) ready on $SOCK"
printf 'swtpm:%s\n' "$SOCK"
