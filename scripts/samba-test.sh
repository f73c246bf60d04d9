#!/usr/bin/env bash
# samba-test.sh — run a real Samba 4 Active Directory domain controller
# for the directory tests and print where it is. Used by `make test`:
#
#   LANYARD_TEST_SAMBA=$(scripts/samba-test.sh) go test -tags integration ./internal/directory/...
#
# What it does, idempotently:
#   1. installs samba, ldap-utils and openssl from Debian when missing;
#   2. once (marker $STATE/provisioned): provisions the domain LANYARD.TEST
#      with `samba-tool domain provision` into $STATE/dc (its own smb.conf,
#      private dir and sam.ldb; nothing of the machine's /etc/samba is
#      used), makes a throwaway CA and a server certificate for the DC's
#      loopback address, and seeds the test data with samba-tool on the
#      offline database;
#   3. reuses a DC this script started earlier if it still answers, else
#      starts `samba -i` (foreground mode, in the background of this
#      script) with only the LDAP server (`server services = ldap`), bound
#      to its own loopback address $ADDR only (`interfaces`,
#      `bind interfaces only`): Samba's LDAP ports cannot be changed, so
#      a dedicated address keeps 389/636 of 127.0.0.1 free;
#   4. waits until an LDAPS search as the administrator answers.
#
# Seed data (OU=Lanyard under the domain): users alice (manager of bob and
# dave), bob, carol (disabled), dave (in OU=People, to be moved), eve; groups
# staff ∋ engineers ∋ admins (nested) with alice ∈ admins, bob ∈ engineers,
# eve ∈ staff. Tests change data themselves as the administrator, with
# names unique per run, so runs repeat on one server.
#
# The one line on stdout is space-separated key=value pairs:
#
#   url=ldaps://ADDR:636 base=DC=lanyard,DC=test bind=ADMIN-DN password=SECRET ca=CA.pem
#
# All progress goes to stderr; the DC is left running, its log in
# $STATE/samba.log. LANYARD_SAMBA_ADDR overrides the address (127.0.0.88).
set -euo pipefail

log() { printf 'samba-test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

STATE=${LANYARD_SAMBA_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/lanyard/samba}
ADDR=${LANYARD_SAMBA_ADDR:-127.0.0.88}
REALM=LANYARD.TEST
DOMAIN=LANYARD
BASE="DC=lanyard,DC=test"
ADMIN_DN="CN=Administrator,CN=Users,$BASE"
DC=$STATE/dc
CONF=$DC/etc/smb.conf
PIDFILE=$STATE/samba.pid
LOG=$STATE/samba.log

# 1. Packages.
if ! command -v samba >/dev/null 2>&1 || ! command -v samba-tool >/dev/null 2>&1 || ! command -v ldapsearch >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1; then
	log "installing samba ldap-utils iproute2"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >&2
	$sudo apt-get install -y -qq --no-install-recommends samba ldap-utils openssl iproute2 >&2
	# Debian's package may start the machine's own smbd/nmbd/samba-ad-dc;
	# only the DC below is used.
	for svc in samba-ad-dc smbd nmbd; do $sudo service "$svc" stop >/dev/null 2>&1 || true; done
fi
command -v samba >/dev/null 2>&1 || die "samba is not installed"
command -v openssl >/dev/null 2>&1 || die "openssl is needed"

mkdir -p "$STATE"
chmod 700 "$STATE"

# Samba listens only on addresses an interface holds (getifaddrs): give
# the loopback interface the DC's own address.
# (The output is read whole first: grep -q would end the pipe early and
# pipefail would count ip's SIGPIPE as a failure.)
lo_addrs=$(ip -o addr show dev lo 2>/dev/null || true)
if [[ $lo_addrs != *"inet $ADDR/"* ]]; then
	log "adding $ADDR to the loopback interface"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo ip addr add "$ADDR/8" dev lo >&2 || die "cannot add $ADDR to lo (set LANYARD_SAMBA_ADDR=127.0.0.1 to use 389/636 there)"
fi

answers() {
	[ -s "$STATE/password" ] || return 1
	LDAPTLS_CACERT="$STATE/ca.pem" timeout 10 ldapsearch -LLL -o nettimeout=5 -H "ldaps://$ADDR:636" \
		-D "$ADMIN_DN" -y "$STATE/password" -b "$BASE" -s base dn >/dev/null 2>&1
}

running_pid() {
	[ -s "$PIDFILE" ] || return 1
	local pid
	pid=$(cat "$PIDFILE")
	[ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null || true)")" = samba ] || return 1
	echo "$pid"
}

print_spec() {
	printf 'url=ldaps://%s:636 base=%s bind=%s password=%s ca=%s\n' "$ADDR" "$BASE" "$ADMIN_DN" "$(cat "$STATE/password")" "$STATE/ca.pem"
}

# 3a. Reuse a running DC.
if pid=$(running_pid) && answers; then
	log "reusing samba (pid $pid) on $ADDR"
	print_spec
	exit 0
fi
if pid=$(running_pid); then
	log "stopping unresponsive samba (pid $pid)"
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && die "cannot stop samba (pid $pid)"
fi

# 2. Provision once.
if [ ! -e "$STATE/provisioned" ]; then
	log "provisioning $REALM into $DC (first run only; takes a minute)"
	rm -rf "$DC" "$STATE/password" "$STATE/seeded"
	# Complexity rules: upper, lower, digit, symbol.
	pw="Ly-$(openssl rand -hex 12)-A1"
	printf '%s' "$pw" >"$STATE/password"
	chmod 600 "$STATE/password"
	samba-tool domain provision --targetdir="$DC" --realm="$REALM" --domain="$DOMAIN" \
		--server-role=dc --dns-backend=NONE --host-name=dc1 --host-ip="$ADDR" \
		--adminpass="$pw" --use-rfc2307 \
		--option="interfaces = $ADDR" --option="bind interfaces only = yes" \
		--option="server services = ldap" --option="dcerpc endpoint servers = " \
		--option="dns proxy = no" --option="disable netbios = yes" \
		--option="tls enabled = yes" \
		--option="tls keyfile = $STATE/key.pem" --option="tls certfile = $STATE/cert.pem" \
		--option="tls cafile = $STATE/ca.pem" >&2 || die "samba-tool domain provision failed"

	# A CA whose key is deleted once the DC's certificate is signed.
	tmp=$(mktemp -d)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj "/CN=Lanyard test directory CA (samba)" -keyout "$tmp/ca.key" -out "$STATE/ca.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=dc1.lanyard.test" \
		-keyout "$STATE/key.pem" -out "$tmp/req.pem" 2>/dev/null
	printf 'subjectAltName=IP:%s,DNS:dc1.lanyard.test\nextendedKeyUsage=serverAuth\n' "$ADDR" >"$tmp/ext"
	openssl x509 -req -in "$tmp/req.pem" -CA "$STATE/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
		-days 3650 -extfile "$tmp/ext" -out "$STATE/cert.pem" 2>/dev/null
	rm -rf "$tmp"
	chmod 600 "$STATE/key.pem"

	# Seed data, written to the offline database.
	sam=(-H "$DC/private/sam.ldb")
	upw="Us-$(openssl rand -hex 8)-B2"
	samba-tool ou add "OU=Lanyard,$BASE" "${sam[@]}" >&2
	samba-tool ou add "OU=People,OU=Lanyard,$BASE" "${sam[@]}" >&2
	samba-tool ou add "OU=Moved,OU=Lanyard,$BASE" "${sam[@]}" >&2
	samba-tool ou add "OU=Groups,OU=Lanyard,$BASE" "${sam[@]}" >&2
	for u in alice bob carol dave eve; do
		samba-tool user create "$u" "$upw" --userou="OU=People,OU=Lanyard" --use-username-as-cn \
			--given-name="${u^}" --surname=Test --mail-address="$u@lanyard.test" "${sam[@]}" >&2
	done
	samba-tool user disable carol "${sam[@]}" >&2
	for g in staff engineers admins; do
		samba-tool group add "$g" --groupou="OU=Groups,OU=Lanyard" "${sam[@]}" >&2
	done
	samba-tool group addmembers staff engineers,eve "${sam[@]}" >&2
	samba-tool group addmembers engineers admins,bob "${sam[@]}" >&2
	samba-tool group addmembers admins alice "${sam[@]}" >&2
	printf '%s' "$upw" >"$STATE/user-password"
	chmod 600 "$STATE/user-password"
	touch "$STATE/provisioned"
fi

# 3b. Start. Its own pid and socket directories: /run/samba may belong
# to the machine's Samba (or another DC of this script).
if ! grep -q "pid directory" "$CONF"; then
	sed -i "/^\[global\]/a\\	pid directory = $DC/run\n	ncalrpc dir = $DC/run/ncalrpc\n	winbindd socket directory = $DC/run/winbindd" "$CONF"
fi
mkdir -p "$DC/run"
log "starting samba on $ADDR (log $LOG)"
# setsid: the DC outlives this script and the make that ran it.
setsid samba -i -s "$CONF" --debug-stdout -d 1 </dev/null >"$LOG" 2>&1 &
echo $! >"$PIDFILE"

# 4. Wait until it answers.
for i in $(seq 1 600); do
	answers && break
	if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
		tail -n 30 "$LOG" >&2 || true
		die "samba exited"
	fi
	[ "$i" -eq 600 ] && { tail -n 30 "$LOG" >&2 || true; die "samba did not answer on ldaps://$ADDR:636 within 60s"; }
	sleep 0.1
done
# Managers (a DN-valued attribute samba-tool does not set), once.
if [ ! -e "$STATE/seeded" ]; then
	for u in bob dave; do
		LDAPTLS_CACERT="$STATE/ca.pem" ldapmodify -H "ldaps://$ADDR:636" -D "$ADMIN_DN" -y "$STATE/password" >&2 <<-EOF
			dn: CN=$u,OU=People,OU=Lanyard,$BASE
			changetype: modify
			replace: manager
			manager: CN=alice,OU=People,OU=Lanyard,$BASE
		EOF
	done
	touch "$STATE/seeded"
fi
log "samba (pid $(cat "$PIDFILE")) ready on ldaps://$ADDR:636"
print_spec
