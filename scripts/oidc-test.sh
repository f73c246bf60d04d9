#!/usr/bin/env bash
# oidc-test.sh — start a real OpenID provider for the single sign-on tests
# and print where it is. Used by `make test`:
#
#   LANYARD_TEST_OIDC=$(scripts/oidc-test.sh) go test -tags integration ./internal/service/sso/ ./internal/web/ui/
#
# The provider is the OpenID-certified example server of
# github.com/zitadel/oidc (a test-only tool, not a module dependency),
# built with `go install` into $BIN_DIR when missing. Two instances run on
# free loopback ports, each its own issuer (http://localhost:PORT/) with its
# own signing key: the second is "another issuer" for the tests that an ID
# token from elsewhere is refused.
#
# What the example server has built in (example/server/main.go and
# storage/client.go of v3.52.0): the clients
#   native  public client (no secret), PKCE; a loopback redirect URI
#           matches on any port and host (RFC 8252 7.3), so a test
#           server on a random port can use it;
#   web     confidential client, secret "secret", exact redirect URIs;
#   api     confidential client, secret "secret", exact redirect URIs.
# REDIRECT_URI (comma-separated) sets the redirect URIs of all three: the
# callbacks of the providers the tests name (zitadel, web, api, other) on
# localhost, and for the exact-match clients on WEB_PORT, a port nothing
# listens on (the tests that use them follow the redirect themselves).
# USERS_FILE holds the test users ($STATE/users.json, made here), all with
# one password made once: alice, oscar, newbie, twin, gone, nobody (e-mail
# NAME@example.test, verified) and unverified (e-mail not verified). The
# server asserts amr ["pwd"] and no acr.
#
# A running pair (of this $BIN, with this state) is reused; otherwise it
# is started. The one line on stdout is space-separated key=value pairs:
#
#   issuer=URL other_issuer=URL public_client=native web_client=web
#   web_secret=secret web_redirect_base=http://localhost:PORT
#   password=SECRET users=alice,oscar,… domain=example.test bin=SERVER
#
# All progress goes to stderr; the servers are left running, their logs in
# $STATE/*.log.
set -euo pipefail

VERSION=v3.52.0
log() { printf 'oidc-test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

BIN_DIR=${LANYARD_OIDC_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lanyard/zitadel-oidc-$VERSION}
BIN=$BIN_DIR/server
STATE=${XDG_STATE_HOME:-$HOME/.local/state}/lanyard/oidc
GO=${GO:-go}

# 1. The binary.
if [ ! -x "$BIN" ]; then
	log "building the zitadel/oidc example server $VERSION into $BIN_DIR (first run only)"
	mkdir -p "$BIN_DIR"
	(cd "$BIN_DIR" && GOBIN="$BIN_DIR" GOFLAGS=-buildvcs=false "$GO" install "github.com/zitadel/oidc/v3/example/server@$VERSION") >&2 ||
		die "go install github.com/zitadel/oidc/v3/example/server@$VERSION failed"
fi
[ -x "$BIN" ] || die "$BIN is missing after the build"
command -v curl >/dev/null || die "curl is needed (scripts/test-deps.sh installs it)"

mkdir -p "$STATE"
chmod 700 "$STATE"

alive() { # alive NAME: the instance NAME of this $BIN runs and answers discovery
	local pid port
	pid=$(cat "$STATE/$1.pid" 2>/dev/null || true)
	port=$(cat "$STATE/$1.port" 2>/dev/null || true)
	[ -n "$pid" ] && [ -n "$port" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" = "$BIN" ] &&
		curl -fsS "http://localhost:$port/.well-known/openid-configuration" >/dev/null 2>&1
}

# 2. Reuse a running pair.
if [ -s "$STATE/line" ] && alive main && alive other; then
	log "reusing the running provider ($(cat "$STATE/main.port"), $(cat "$STATE/other.port"))"
	cat "$STATE/line"
	exit 0
fi

# Stop what is left of an earlier pair (only processes of $BIN).
for pidfile in "$STATE"/*.pid; do
	[ -e "$pidfile" ] || continue
	pid=$(cat "$pidfile")
	if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" = "$BIN" ]; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -f "$pidfile"
done
rm -f "$STATE/line"

# 3. The users and their password, made once.
PWFILE=$STATE/password
if [ ! -s "$PWFILE" ]; then
	(umask 077 && od -An -N12 -tx1 /dev/urandom | tr -d ' \n' >"$PWFILE")
fi
PASSWORD=$(cat "$PWFILE")
USERS="alice oscar newbie twin gone nobody unverified"
{
	printf '{'
	sep=
	for u in $USERS; do
		verified=true
		[ "$u" = unverified ] && verified=false
		printf '%s"id-%s":{"ID":"id-%s","Username":"%s","Password":"%s","FirstName":"%s","LastName":"Tester","Email":"%s@example.test","EmailVerified":%s,"PreferredLanguage":"en","IsAdmin":false}' \
			"$sep" "$u" "$u" "$u" "$PASSWORD" "${u^}" "$u" "$verified"
		sep=,
	done
	printf '}\n'
} >"$STATE/users.json"
chmod 600 "$STATE/users.json"

# Free ports below the ephemeral range (as scripts/mailpit-test.sh).
taken=" "
for hex in $(awk 'NR > 1 && $4 == "0A" { n = split($2, a, ":"); print a[n] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null); do
	taken="$taken$((16#$hex)) "
done
port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		case "$taken" in *" $p "*) continue ;; esac
		taken="$taken$p "
		echo "$p"
		return
	done
}

WEB_PORT=$(port)
redirects=
for name in zitadel web api other; do
	redirects="$redirects${redirects:+,}http://localhost/login/oidc/$name/callback,http://localhost:$WEB_PORT/login/oidc/$name/callback"
done

start() { # start NAME: one instance on a free port; sets NAME_port
	local name=$1 p pid try
	for try in 1 2 3; do
		p=$(port)
		PORT=$p USERS_FILE="$STATE/users.json" REDIRECT_URI="$redirects" setsid "$BIN" >"$STATE/$name.log" 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$STATE/$name.pid"
		echo "$p" >"$STATE/$name.port"
		for _ in $(seq 100); do
			if alive "$name"; then
				printf -v "${name}_port" '%s' "$p"
				return
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$pid" 2>/dev/null || true
		log "the provider ($name) did not start on port $p (attempt $try):"
		tail -20 "$STATE/$name.log" >&2
	done
	die "the provider ($name) did not start"
}

start main
start other
line=$(printf 'issuer=http://localhost:%s/ other_issuer=http://localhost:%s/ public_client=native web_client=web web_secret=secret web_redirect_base=http://localhost:%s password=%s users=%s domain=example.test bin=%s' \
	"$main_port" "$other_port" "$WEB_PORT" "$PASSWORD" "${USERS// /,}" "$BIN")
(umask 077 && echo "$line" >"$STATE/line")
log "OpenID provider $VERSION ready: http://localhost:$main_port/ and http://localhost:$other_port/"
echo "$line"
