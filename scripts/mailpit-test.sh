#!/usr/bin/env bash
# mailpit-test.sh — start real SMTP servers for the e-mail tests and print
# where they are. Used by `make test`:
#
#   LANYARD_TEST_SMTP=$(scripts/mailpit-test.sh) go test -tags integration ./internal/notify/...
#
# Mailpit (github.com/axllent/mailpit, a test-only tool, not a module
# dependency) is built with `go install` into $BIN_DIR when missing. Three
# instances start on free loopback ports, each with its HTTP API (the tests
# read the delivered mail through /api/v1/…):
#
#   smtp      plain SMTP, no TLS, no authentication
#   starttls  STARTTLS required, AUTH required
#   tls       implicit TLS (port-465 style), AUTH required
#
# The TLS servers' certificate (localhost, 127.0.0.1) is signed by a
# throwaway test CA, as an internal mail relay's would be: Lanyard sends
# PINs, codes and documents only over TLS it can verify, and the tests
# trust that CA (the notification settings' CA certificates, or
# notify.Config.RootCAs). The CA's private key is deleted once the
# certificate is signed, so nothing else can ever be signed by it.
#
# Instances of an earlier run of this script are stopped first. The CA,
# the certificate, its key and the AUTH password are made once and kept in
# $STATE (mode 0700). The one line on stdout is space-separated key=value
# pairs:
#
#   smtp=HOST:PORT api=URL starttls=HOST:PORT starttls_api=URL tls=HOST:PORT
#   tls_api=URL ca=CA.pem cert=CERT.pem key=KEY.pem user=NAME
#   password=SECRET bin=MAILPIT
#
# `bin`, `cert` and `key` let a test run its own instance (SMTP server
# down, then up; plain or STARTTLS). All progress goes to stderr; the
# servers are left running, their logs in $STATE/*.log.
set -euo pipefail

VERSION=v1.27.11
log() { printf 'mailpit-test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

BIN_DIR=${LANYARD_MAILPIT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lanyard/mailpit-$VERSION}
BIN=$BIN_DIR/mailpit
STATE=${XDG_STATE_HOME:-$HOME/.local/state}/lanyard/mailpit
GO=${GO:-go}

# 1. The binary.
if [ ! -x "$BIN" ]; then
	log "building mailpit $VERSION into $BIN_DIR (first run only; takes a minute or two)"
	mkdir -p "$BIN_DIR"
	(cd "$BIN_DIR" && GOBIN="$BIN_DIR" GOFLAGS=-buildvcs=false "$GO" install "github.com/axllent/mailpit@$VERSION") >&2 ||
		die "go install github.com/axllent/mailpit@$VERSION failed"
fi
[ -x "$BIN" ] || die "$BIN is missing after the build"
command -v openssl >/dev/null || die "openssl is needed (scripts/test-deps.sh installs it)"
command -v curl >/dev/null || die "curl is needed (scripts/test-deps.sh installs it)"

mkdir -p "$STATE"
chmod 700 "$STATE"

# 2. Stop the instances of an earlier run (only processes of $BIN).
for pidfile in "$STATE"/*.pid; do
	[ -e "$pidfile" ] || continue
	pid=$(cat "$pidfile")
	if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" = "$BIN" ]; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -f "$pidfile"
done

# 3. The test CA, the servers' certificate and key, and the AUTH
# password, made once.
CA=$STATE/tls-ca.pem
CERT=$STATE/tls-cert.pem
KEY=$STATE/tls-key.pem
if [ ! -s "$CA" ] || [ ! -s "$CERT" ] || [ ! -s "$KEY" ]; then
	log "making a throwaway test CA and its certificate for localhost and 127.0.0.1"
	work=$(mktemp -d "$STATE/ca.XXXXXX")
	(
		umask 077
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=Lanyard test mail CA" \
			-addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
			-keyout "$work/ca.key" -out "$work/ca.pem" &&
			openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
				-keyout "$work/key.pem" -out "$work/req.pem" &&
			printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$work/ext" &&
			openssl x509 -req -in "$work/req.pem" -CA "$work/ca.pem" -CAkey "$work/ca.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
				-days 3650 -extfile "$work/ext" -out "$work/cert.pem"
	) 2>/dev/null || { rm -rf "$work"; die "openssl could not make the test CA and certificate"; }
	mv "$work/key.pem" "$KEY" && mv "$work/cert.pem" "$CERT" && mv "$work/ca.pem" "$CA"
	rm -rf "$work" # the CA's key with it
fi
AUTH=$STATE/auth
if [ ! -s "$AUTH" ]; then
	(umask 077 && printf 'lanyard:%s\n' "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')" >"$AUTH")
fi
PASSWORD=$(sed -n 's/^lanyard://p' "$AUTH")

# Free ports: random ones nobody listens on (checked in /proc), below
# the kernel's ephemeral range (32768 and up by default), where the
# outgoing connections of tests running meanwhile take theirs.
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

# listening PORT: something accepts TCP connections on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start NAME ARGS… starts one instance on two free ports (SMTP, API) and
# waits until both answer; a port taken meanwhile (mailpit exits) is
# retried with new ones. It sets the variables NAME_smtp and NAME_api.
start() {
	local name=$1 smtp api pid try
	shift
	for try in 1 2 3; do
		smtp=$(port) api=$(port)
		setsid "$BIN" --smtp "127.0.0.1:$smtp" --listen "127.0.0.1:$api" --max 5000 --smtp-disable-rdns --disable-version-check "$@" \
			>"$STATE/$name.log" 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$STATE/$name.pid"
		for _ in $(seq 100); do
			if curl -fsS "http://127.0.0.1:$api/api/v1/messages?limit=1" >/dev/null 2>&1 && listening "$smtp" && kill -0 "$pid" 2>/dev/null; then
				printf -v "${name}_smtp" '%s' "$smtp"
				printf -v "${name}_api" '%s' "$api"
				return
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$pid" 2>/dev/null || true
		log "mailpit ($name) did not start on ports $smtp/$api (attempt $try):"
		cat "$STATE/$name.log" >&2
	done
	die "mailpit ($name) did not start"
}

start plain
start starttls --smtp-tls-cert "$CERT" --smtp-tls-key "$KEY" --smtp-require-starttls --smtp-auth-file "$AUTH"
start tls --smtp-tls-cert "$CERT" --smtp-tls-key "$KEY" --smtp-require-tls --smtp-auth-file "$AUTH"
p_smtp=$plain_smtp p_api=$plain_api s_smtp=$starttls_smtp s_api=$starttls_api t_smtp=$tls_smtp t_api=$tls_api
log "mailpit $VERSION ready: plain 127.0.0.1:$p_smtp, STARTTLS 127.0.0.1:$s_smtp, TLS 127.0.0.1:$t_smtp"
printf 'smtp=127.0.0.1:%s api=http://127.0.0.1:%s starttls=127.0.0.1:%s starttls_api=http://127.0.0.1:%s tls=127.0.0.1:%s tls_api=http://127.0.0.1:%s ca=%s cert=%s key=%s user=lanyard password=%s bin=%s\n' \
	"$p_smtp" "$p_api" "$s_smtp" "$s_api" "$t_smtp" "$t_api" "$CA" "$CERT" "$KEY" "$PASSWORD" "$BIN"
