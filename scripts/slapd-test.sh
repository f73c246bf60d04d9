#!/usr/bin/env bash
# slapd-test.sh — run a real OpenLDAP server (Debian slapd) for the
# directory tests and benchmarks and print where it is. Used by `make test`:
#
#   LANYARD_TEST_SLAPD=$(scripts/slapd-test.sh) go test -tags integration ./internal/directory/...
#
# What it does, idempotently:
#   1. installs slapd, ldap-utils and openssl from Debian when missing;
#   2. once (marker $STATE/provisioned): makes the databases, the TLS
#      certificate and the admin password; on every run writes its own
#      slapd.conf (nothing of the machine's /etc/ldap/slapd.d is used)
#      with two mdb databases,
#      dc=lanyard,dc=test (tests) and dc=bench,dc=test (the 50,000-user
#      benchmark loads itself there once), the memberof overlay (memberOf
#      on users and nested groups, kept right on rename and delete) and
#      refint (member and manager values follow renames and deletes), the
#      ppolicy overlay (pwdAccountLockedTime), syncprov (RFC 4533, for
#      incremental deletions), and TLS with a throwaway CA made with
#      openssl;
#   3. reuses a slapd this script started earlier if it still answers, else
#      starts slapd on loopback only: ldaps://127.0.0.1:$PORT_TLS and
#      ldap://127.0.0.1:$PORT (StartTLS tests);
#   4. seeds dc=lanyard,dc=test once through LDAP (so the overlays run):
#      users alice (manager of bob), bob, carol (locked), dave, eve; groups
#      staff ∋ engineers ∋ admins, alice ∈ admins, bob ∈ engineers, eve ∈
#      staff.
#
# The one line on stdout is space-separated key=value pairs:
#
#   url=ldaps://127.0.0.1:PORT_TLS starttls=ldap://127.0.0.1:PORT base=dc=lanyard,dc=test
#   bind=cn=admin,dc=lanyard,dc=test password=SECRET ca=CA.pem bench=dc=bench,dc=test
#   benchbind=cn=admin,dc=bench,dc=test
#
# All progress goes to stderr; slapd is left running, its log in
# $STATE/slapd.log. LANYARD_SLAPD_PORT / LANYARD_SLAPD_TLS_PORT override
# the ports (3389 / 3636).
set -euo pipefail

log() { printf 'slapd-test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

STATE=${LANYARD_SLAPD_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/lanyard/slapd}
PORT=${LANYARD_SLAPD_PORT:-3389}
PORT_TLS=${LANYARD_SLAPD_TLS_PORT:-3636}
BASE="dc=lanyard,dc=test"
ADMIN_DN="cn=admin,$BASE"
BENCH="dc=bench,dc=test"
PIDFILE=$STATE/slapd.pid
LOG=$STATE/slapd.log

# 1. Packages.
if ! command -v slapd >/dev/null 2>&1 && [ ! -x /usr/sbin/slapd ] || ! command -v ldapsearch >/dev/null 2>&1; then
	log "installing slapd ldap-utils"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >&2
	$sudo apt-get install -y -qq --no-install-recommends slapd ldap-utils openssl >&2
	# Debian's package may start the system's own slapd on port 389, which
	# would take the Samba DC's port (scripts/samba-test.sh): only ours runs.
	$sudo service slapd stop >/dev/null 2>&1 || true
fi
SLAPD=$(command -v slapd || echo /usr/sbin/slapd)
[ -x "$SLAPD" ] || die "slapd is not installed"
command -v openssl >/dev/null 2>&1 || die "openssl is needed"
MODDIR=/usr/lib/ldap
[ -e "$MODDIR/memberof.so" ] || MODDIR=$(dirname "$(find /usr/lib -name 'memberof.so*' -print -quit 2>/dev/null)")

mkdir -p "$STATE"
chmod 700 "$STATE"

ldap() { # ldap TOOL ARGS...: run an ldap-utils tool over LDAPS as the admin
	local tool=$1
	shift
	LDAPTLS_CACERT="$STATE/ca.pem" timeout 20 "$tool" -o nettimeout=5 -H "ldaps://127.0.0.1:$PORT_TLS" \
		-D "$ADMIN_DN" -y "$STATE/password" "$@"
}
answers() {
	[ -s "$STATE/password" ] || return 1
	ldap ldapsearch -LLL -b "" -s base namingContexts >/dev/null 2>&1
}
running_pid() {
	[ -s "$PIDFILE" ] || return 1
	local pid
	pid=$(cat "$PIDFILE")
	[ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null || true)")" = slapd ] || return 1
	echo "$pid"
}
print_spec() {
	printf 'url=ldaps://127.0.0.1:%s starttls=ldap://127.0.0.1:%s base=%s bind=%s password=%s ca=%s bench=%s benchbind=cn=admin,%s\n' \
		"$PORT_TLS" "$PORT" "$BASE" "$ADMIN_DN" "$(cat "$STATE/password")" "$STATE/ca.pem" "$BENCH" "$BENCH"
}

# 2. Configuration, once.
if [ ! -e "$STATE/provisioned" ]; then
	log "creating the configuration and databases in $STATE"
	rm -rf "$STATE/db" "$STATE/bench" "$STATE/seeded"
	mkdir -p "$STATE/db" "$STATE/bench"
	pw=$(openssl rand -hex 16)
	printf '%s' "$pw" >"$STATE/password"
	chmod 600 "$STATE/password"

	tmp=$(mktemp -d)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj "/CN=Lanyard test directory CA (slapd)" -keyout "$tmp/ca.key" -out "$STATE/ca.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
		-keyout "$STATE/key.pem" -out "$tmp/req.pem" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$tmp/ext"
	openssl x509 -req -in "$tmp/req.pem" -CA "$STATE/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
		-days 3650 -extfile "$tmp/ext" -out "$STATE/cert.pem" 2>/dev/null
	rm -rf "$tmp"
	chmod 600 "$STATE/key.pem"

	slappasswd -s "$pw" >"$STATE/rootpw"
	chmod 600 "$STATE/rootpw"
	touch "$STATE/provisioned"
fi

# The configuration, written on every run; a running slapd of an older
# configuration is stopped and started again with the new one. syncprov
# (RFC 4533 provider, with a session log) lets the incremental read learn
# deletions without reading every user.
[ -s "$STATE/rootpw" ] || { slappasswd -s "$(cat "$STATE/password")" >"$STATE/rootpw"; chmod 600 "$STATE/rootpw"; }
hash=$(cat "$STATE/rootpw")
db() { # db SUFFIX DIR: one mdb database with the overlays
	cat <<-EOF
		database mdb
		suffix "$1"
		rootdn "cn=admin,$1"
		rootpw $hash
		directory $2
		maxsize 4294967296
		index objectClass eq
		index uid,mail,cn eq
		index entryUUID,entryCSN eq
		index member,memberOf,manager eq
		index modifyTimestamp eq
		overlay memberof
		memberof-group-oc groupOfNames
		memberof-member-ad member
		memberof-memberof-ad memberOf
		memberof-refint TRUE
		overlay refint
		refint_attributes member manager
		overlay ppolicy
		overlay syncprov
		syncprov-checkpoint 1000 10
		syncprov-sessionlog 100000
	EOF
}
{
	cat <<-EOF
		include /etc/ldap/schema/core.schema
		include /etc/ldap/schema/cosine.schema
		include /etc/ldap/schema/inetorgperson.schema
		include /etc/ldap/schema/nis.schema
		modulepath $MODDIR
		moduleload back_mdb
		moduleload memberof
		moduleload refint
		moduleload ppolicy
		moduleload syncprov
		pidfile $PIDFILE
		sizelimit unlimited
		TLSCACertificateFile $STATE/ca.pem
		TLSCertificateFile $STATE/cert.pem
		TLSCertificateKeyFile $STATE/key.pem
		TLSProtocolMin 3.3
	EOF
	db "$BASE" "$STATE/db"
	db "$BENCH" "$STATE/bench"
} >"$STATE/slapd.conf.new"
if ! cmp -s "$STATE/slapd.conf.new" "$STATE/slapd.conf"; then
	"$SLAPD" -T test -u -f "$STATE/slapd.conf.new" >&2 || die "slapd -T test refused $STATE/slapd.conf.new"
	if pid=$(running_pid); then
		log "configuration changed: stopping slapd (pid $pid)"
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && die "cannot stop slapd (pid $pid)"
	fi
	mv "$STATE/slapd.conf.new" "$STATE/slapd.conf"
else
	rm -f "$STATE/slapd.conf.new"
fi

# 3a. Reuse.
if pid=$(running_pid) && answers; then
	log "reusing slapd (pid $pid) on 127.0.0.1:$PORT_TLS"
	print_spec
	exit 0
fi
if pid=$(running_pid); then
	log "stopping unresponsive slapd (pid $pid)"
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && die "cannot stop slapd (pid $pid)"
fi

# 3b. Start. slapd forks into the background itself once it listens.
log "starting slapd on 127.0.0.1:$PORT_TLS and :$PORT (log $LOG)"
rm -f "$PIDFILE"
setsid "$SLAPD" -f "$STATE/slapd.conf" -h "ldaps://127.0.0.1:$PORT_TLS/ ldap://127.0.0.1:$PORT/" -d 0 >"$LOG" 2>&1 &
for i in $(seq 1 300); do
	answers && break
	[ "$i" -eq 300 ] && { tail -n 30 "$LOG" >&2 || true; die "slapd did not answer on ldaps://127.0.0.1:$PORT_TLS within 30s"; }
	sleep 0.1
done
# -d 0 keeps slapd in the foreground; $! is its pid (slapd's own pidfile too).
[ -s "$PIDFILE" ] || echo $! >"$PIDFILE"

# 4. Seed, once, through LDAP so the overlays maintain memberOf.
if [ ! -e "$STATE/seeded" ]; then
	log "seeding $BASE and $BENCH"
	upw=$(openssl rand -hex 12)
	{
		printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: lanyard\no: Lanyard test\n\n' "$BASE"
		for ou in People Moved Groups; do
			printf 'dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n' "$ou" "$BASE" "$ou"
		done
		for u in alice bob carol dave eve; do
			printf 'dn: uid=%s,ou=People,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s Test\nsn: Test\nmail: %s@lanyard.test\nuserPassword: %s\n' \
				"$u" "$BASE" "$u" "${u^}" "$u" "$upw"
			case $u in bob | dave) printf 'manager: uid=alice,ou=People,%s\n' "$BASE" ;; esac
			printf '\n'
		done
		printf 'dn: cn=admins,ou=Groups,%s\nobjectClass: groupOfNames\ncn: admins\nmember: uid=alice,ou=People,%s\n\n' "$BASE" "$BASE"
		printf 'dn: cn=engineers,ou=Groups,%s\nobjectClass: groupOfNames\ncn: engineers\nmember: cn=admins,ou=Groups,%s\nmember: uid=bob,ou=People,%s\n\n' "$BASE" "$BASE" "$BASE"
		printf 'dn: cn=staff,ou=Groups,%s\nobjectClass: groupOfNames\ncn: staff\nmember: cn=engineers,ou=Groups,%s\nmember: uid=eve,ou=People,%s\n\n' "$BASE" "$BASE" "$BASE"
	} | ldap ldapadd >&2 || die "seeding $BASE failed"
	printf 'dn: uid=carol,ou=People,%s\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n' "$BASE" |
		ldap ldapmodify >&2 || die "locking carol failed"
	printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: bench\no: Lanyard benchmark\n\n' "$BENCH" |
		LDAPTLS_CACERT="$STATE/ca.pem" ldapadd -H "ldaps://127.0.0.1:$PORT_TLS" -D "cn=admin,$BENCH" -y "$STATE/password" >&2 ||
		die "creating $BENCH failed"
	printf '%s' "$upw" >"$STATE/user-password"
	chmod 600 "$STATE/user-password"
	touch "$STATE/seeded"
fi
log "slapd (pid $(cat "$PIDFILE")) ready on ldaps://127.0.0.1:$PORT_TLS"
print_spec
