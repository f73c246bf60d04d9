#!/usr/bin/env bash
# postgres-test.sh — make a local PostgreSQL ready for the store tests and
# print its URL. Used by `make test`:
#
#   LANYARD_TEST_POSTGRES=$(scripts/postgres-test.sh) go test -tags integration ./...
#
# Idempotent: installs the server if missing (apt), creates a cluster if
# none exists, starts it if stopped, creates the role and database
# lanyard_test, and waits until the server accepts connections. The one
# line on stdout is the URL; all progress goes to stderr. The server is
# left running.
#
# The role's password is random, made on first use and kept (mode 0600) in
# $LANYARD_TEST_PG_PASSWORD_FILE (default: $XDG_STATE_HOME or
# ~/.local/state, then lanyard/postgres-test-password). It is set again on
# every run, so deleting the file is harmless.
set -euo pipefail

log() { printf 'postgres-test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

ROLE=lanyard_test
DB=lanyard_test

# as_root runs a command as root, through sudo when we are not root.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# as_postgres runs a command as the postgres OS user, who may connect over
# the local socket by peer authentication.
as_postgres() {
	if command -v runuser >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	elif [ "$(id -u)" -eq 0 ]; then
		su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
	else
		sudo -u postgres -- "$@"
	fi
}

# server_version prints the highest installed server major version.
server_version() {
	local d v best=""
	for d in /usr/lib/postgresql/*/bin/postgres; do
		[ -x "$d" ] || continue
		v=${d#/usr/lib/postgresql/}
		v=${v%%/*}
		if [ -z "$best" ] || [ "$v" -gt "$best" ]; then best=$v; fi
	done
	printf '%s' "$best"
}

# 1. Server binaries.
VER=$(server_version)
if [ -z "$VER" ] || ! command -v pg_lsclusters >/dev/null 2>&1; then
	log "PostgreSQL server not installed; installing with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update >&2
	as_root apt-get install -y postgresql >&2
	VER=$(server_version)
	[ -n "$VER" ] || die "apt-get installed postgresql but no server binary was found"
fi

# 2. A cluster: use "main" of the newest version if it exists, else create it.
if ! pg_lsclusters -h 2>/dev/null | awk -v v="$VER" '$1 == v && $2 == "main" { found = 1 } END { exit !found }'; then
	log "creating cluster $VER/main"
	as_root pg_createcluster "$VER" main >&2
fi

# 3. Running.
status=$(pg_lsclusters -h | awk -v v="$VER" '$1 == v && $2 == "main" { print $4 }')
if [ "$status" != "online" ]; then
	log "starting cluster $VER/main (was: ${status:-unknown})"
	as_root pg_ctlcluster "$VER" main start >&2
fi
PORT=$(pg_lsclusters -h | awk -v v="$VER" '$1 == v && $2 == "main" { print $3 }')
[ -n "$PORT" ] || die "cannot read the port of cluster $VER/main"

# 4. Wait until it accepts connections (start returns before it does on
# some systems, and a freshly installed cluster may still be recovering).
for i in $(seq 1 60); do
	if pg_isready -q -h 127.0.0.1 -p "$PORT"; then break; fi
	[ "$i" -eq 60 ] && die "PostgreSQL on port $PORT did not become ready in 30s"
	sleep 0.5
done

# 5. Password, role and database.
PWFILE=${LANYARD_TEST_PG_PASSWORD_FILE:-${XDG_STATE_HOME:-$HOME/.local/state}/lanyard/postgres-test-password}
if [ ! -s "$PWFILE" ]; then
	mkdir -p "$(dirname "$PWFILE")"
	(umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$PWFILE")
	log "new password for role $ROLE kept in $PWFILE"
fi
PASSWORD=$(cat "$PWFILE")
[[ "$PASSWORD" =~ ^[A-Za-z0-9]+$ ]] || die "$PWFILE must hold letters and digits only"

psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres "$@"; }

if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
	log "creating role $ROLE"
	psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'" >&2
else
	psql_admin -c "ALTER ROLE $ROLE LOGIN PASSWORD '$PASSWORD'" >&2
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
	log "creating database $DB"
	psql_admin -c "CREATE DATABASE $DB OWNER $ROLE" >&2
fi

URL="postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB?sslmode=disable"

# 6. Prove the URL works over TCP with password authentication, as the
# tests will use it.
for i in $(seq 1 20); do
	if PGCONNECT_TIMEOUT=5 psql -X -q "$URL" -tAc 'SELECT 1' >/dev/null 2>&1; then break; fi
	[ "$i" -eq 20 ] && die "cannot connect as $ROLE to $DB on 127.0.0.1:$PORT"
	sleep 0.5
done
log "PostgreSQL $VER ready on 127.0.0.1:$PORT"
printf '%s\n' "$URL"
