#!/usr/bin/env bash
# pcscd-test.sh — make the real PC/SC stack ready for the card tests and
# print the address virtual cards dial. Used by `make test`:
#
#   LANYARD_TEST_VPCD=$(scripts/pcscd-test.sh) go test -tags integration ./internal/card/...
#
# What it does, idempotently:
#   1. installs pcscd, vsmartcard-vpcd and the client tools when missing
#      (scripts/card-deps.sh);
#   2. writes Lanyard's own reader configuration, $CONF_DIR/vpcd: one vpcd
#      entry in LISTEN mode on base port $PORT (default 35970), which gives
#      two readers, "Lanyard vpcd 35970 YubiKey-compatible PIV 00 00" (slot
#      0, port 35970) and "Lanyard vpcd 35970 YubiKey-compatible PIV 00 01"
#      (slot 1, port 35971). "YubiKey" is in the name because piv-go's own
#      test suite (scripts/pivgo-suite.sh) only touches readers whose name
#      contains it; vpcdtest.Reader matches the name;
#   3. starts pcscd as `pcscd -f -c $CONF_DIR` (as root, without systemd,
#      never with --auto-exit), or restarts a pcscd that runs with any other
#      arguments or an older configuration; a pcscd from an earlier run of
#      this script is kept;
#   4. waits until pcscd's vpcd driver listens on the port.
# The one line on stdout is 127.0.0.1:PORT; all progress goes to stderr.
# pcscd is left running; its log is $LOG.
#
# Why a private configuration directory instead of /etc/reader.conf.d:
#   - Debian's vsmartcard-vpcd already ships /etc/reader.conf.d/vpcd
#     (port 35963), and the vpcd 0.8 driver keeps its per-slot state in
#     globals indexed by slot only: with two vpcd entries in one pcscd, a
#     card on one entry's port shows up in both entries' readers and the
#     other port never accepts. Exactly one vpcd entry may be loaded.
#   - Reverse mode (DEVICENAME host:port) crashes Debian's pcscd; listen
#     mode (DEVICENAME /dev/null:port) is the only one used here.
#   - A port apart from vpcd's default 35963 keeps a developer's own
#     virtual cards (vicc, etc.) out of the tests' slots.
# USB readers are unaffected: pcscd finds them by hotplug, not this file.
#
# Security: vpcd listens on 0.0.0.0, so anyone who can reach the port can
# insert a card into this machine's pcscd. Outside throwaway test machines,
# drop non-loopback traffic to it, e.g.
#   nft add rule inet filter input tcp dport 35970-35971 iif != lo drop
#
# Environment: LANYARD_VPCD_PORT (base port, default 35970),
# LANYARD_PCSCD_LOG (default /var/log/lanyard-pcscd.log),
# LANYARD_PCSCD_DEBUG=1 (run pcscd with -d -a: debug and APDU log; APDUs
# include PINs, so only on test machines).
set -euo pipefail

log() { printf 'pcscd-test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# as_root runs a command as root, through sudo when we are not root.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

PORT=${LANYARD_VPCD_PORT:-35970}
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 65534 ] ||
	die "LANYARD_VPCD_PORT must be a port between 1024 and 65534 (slot 1 uses port+1)"
CONF_DIR=/etc/lanyard/reader.conf.d
CONF=$CONF_DIR/vpcd
LOG=${LANYARD_PCSCD_LOG:-/var/log/lanyard-pcscd.log}
DRIVER=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
RUN_DIR=/run/pcscd
ARGS=(-f -c "$CONF_DIR")
[ "${LANYARD_PCSCD_DEBUG:-}" = 1 ] && ARGS+=(-d -a)

# 1. Packages.
"$(dirname "$0")/card-deps.sh"
command -v pcscd >/dev/null 2>&1 || die "pcscd is not installed"
[ -e "$DRIVER" ] || die "$DRIVER is missing (package vsmartcard-vpcd)"

# 2. Configuration. pcscd reads it only at start, so a change means restart.
want="# Written by lanyard scripts/pcscd-test.sh; rewritten on every run.
# One vpcd entry in listen mode: slot 0 on port $PORT, slot 1 on $((PORT + 1)).
FRIENDLYNAME \"Lanyard vpcd $PORT YubiKey-compatible PIV\"
DEVICENAME   /dev/null:$PORT
LIBPATH      $DRIVER
CHANNELID    $PORT"
conf_changed=0
if [ "$(cat "$CONF" 2>/dev/null || true)" != "$want" ]; then
	log "writing $CONF (vpcd listen mode, port $PORT)"
	as_root mkdir -p "$CONF_DIR"
	printf '%s\n' "$want" | as_root tee "$CONF.tmp" >/dev/null
	as_root mv -f "$CONF.tmp" "$CONF"
	conf_changed=1
fi

# live_pcscd prints the pid of a running (not zombie) pcscd, if any. The
# pid file is not trusted alone: a killed pcscd can leave it behind, and
# where no init reaps orphans a zombie keeps the pid "alive" to kill -0.
live_pcscd() {
	local pid state
	for pid in $(pgrep -x pcscd || true); do
		state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
		if [ -n "$state" ] && [ "$state" != Z ]; then
			printf '%s\n' "$pid"
			return 0
		fi
	done
	return 0
}

# listen_inodes prints the socket inodes listening on TCP port $1 (IPv4 or
# IPv6, any address), from /proc so that no extra tool is needed.
listen_inodes() {
	local hex
	hex=$(printf ':%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }'
}

# pid_listens reports whether process $1 holds a socket listening on port $2.
pid_listens() {
	local inode
	for inode in $(listen_inodes "$2"); do
		if as_root find "/proc/$1/fd" -maxdepth 1 -lname "socket:\[$inode\]" 2>/dev/null | grep -q .; then
			return 0
		fi
	done
	return 1
}

# args_of prints the arguments (without argv[0]) of process $1, one a line.
args_of() { tr '\0' '\n' <"/proc/$1/cmdline" | tail -n +2; }

# 3. pcscd: keep ours, replace any other.
pid=$(live_pcscd)
if [ -n "$pid" ]; then
	reason=""
	if [ "$(args_of "$pid")" != "$(printf '%s\n' "${ARGS[@]}")" ]; then
		reason="it runs as: pcscd $(args_of "$pid" | tr '\n' ' ')"
	elif [ "$conf_changed" = 1 ]; then
		reason="its configuration changed"
	elif ! pid_listens "$pid" "$PORT"; then
		reason="it does not listen on port $PORT"
	fi
	if [ -n "$reason" ]; then
		log "restarting pcscd (pid $pid): $reason"
		as_root kill -TERM "$pid"
		for _ in $(seq 1 50); do
			[ -z "$(live_pcscd)" ] && break
			sleep 0.1
		done
		if [ -n "$(live_pcscd)" ]; then
			log "pcscd (pid $pid) ignored SIGTERM for 5s; killing it"
			as_root kill -KILL "$pid" || true
			sleep 0.2
		fi
		[ -z "$(live_pcscd)" ] || die "cannot stop pcscd (pid $(live_pcscd))"
		pid=""
	fi
fi

if [ -z "$pid" ]; then
	# systemd would start its own pcscd (with --auto-exit) on the next
	# client connection; stop its socket so ours keeps the socket path.
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		if systemctl is-active --quiet pcscd.socket || systemctl is-active --quiet pcscd.service; then
			log "stopping systemd's pcscd.socket and pcscd.service (they use --auto-exit)"
			as_root systemctl stop pcscd.socket pcscd.service >&2
		fi
	fi
	# Another program on our port would make vpcd's bind fail silently.
	for p in "$PORT" "$((PORT + 1))"; do
		[ -z "$(listen_inodes "$p")" ] || die "port $p is already in use by another program; set LANYARD_VPCD_PORT"
	done
	# pcscd refuses to start while its socket exists and the pid in its pid
	# file answers kill -0 (a zombie does); no live pcscd remains, so both
	# files are stale.
	as_root rm -f "$RUN_DIR/pcscd.comm" "$RUN_DIR/pcscd.pid"
	as_root mkdir -p "$(dirname "$LOG")"
	log "starting pcscd ${ARGS[*]} (log: $LOG)"
	# setsid detaches pcscd from this script's session, so it outlives the
	# caller's terminal and `make`.
	as_root sh -c 'log=$1; shift; setsid "$@" </dev/null >>"$log" 2>&1 &' sh "$LOG" pcscd "${ARGS[@]}"
fi

# 4. Wait for the vpcd port (and pcscd's client socket) to be ready.
for i in $(seq 1 100); do
	pid=$(live_pcscd)
	if [ -n "$pid" ] && [ -S "$RUN_DIR/pcscd.comm" ] && pid_listens "$pid" "$PORT"; then
		break
	fi
	if [ "$i" -eq 100 ]; then
		tail -n 20 "$LOG" >&2 2>/dev/null || true
		die "pcscd did not listen on vpcd port $PORT within 10s (log above: $LOG)"
	fi
	sleep 0.1
done
log "pcscd (pid $pid) ready; vpcd slot 0 on 127.0.0.1:$PORT, slot 1 on 127.0.0.1:$((PORT + 1))"
printf '127.0.0.1:%s\n' "$PORT"
