#!/usr/bin/env bash
# cluster.sh — a Lanyard cluster on this machine, for trying one out
# (`make cluster`): PostgreSQL (scripts/postgres-test.sh), two `lanyard
# serve` replicas on one schema sharing one master key file, and Debian's
# HAProxy in front of them — HTTP mode for the API and the pages (health
# check GET /readyz), TCP mode for the agents so that TLS and the
# workstations' client certificates stay end to end, with the PROXY
# protocol v2 so that the replicas see the agents' real addresses.
# docs/deployment.md describes the same layout for production.
#
#   scripts/cluster.sh            # start (or start again) the cluster
#   scripts/cluster.sh --fresh    # forget the previous cluster first
#
# Everything lives in $LANYARD_CLUSTER_DIR (default ./cluster) and in the
# schema $LANYARD_CLUSTER_SCHEMA (default lanyard_cluster) of PostgreSQL's
# lanyard_test database. Ctrl-C stops every process it started.
#
# Ports (loopback; change them with the variables):
#   HAProxy web  LANYARD_CLUSTER_WEB    8090   browsers, the CLI, the API
#   HAProxy agents LANYARD_CLUSTER_AGENTS 8453 `lanyard agent --server`
#   replica A: 18081 (web) 18441 (agents) 18451 (peers)
#   replica B: 18082 (web) 18442 (agents) 18452 (peers)
#   LANYARD_CLUSTER_PORT_OFFSET (default 0) is added to the replicas' six
#   ports: a second cluster beside the first.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${LANYARD_CLUSTER_DIR:-$root/cluster}
web_port=${LANYARD_CLUSTER_WEB:-8090}
agent_port=${LANYARD_CLUSTER_AGENTS:-8453}
off=${LANYARD_CLUSTER_PORT_OFFSET:-0}
schema=${LANYARD_CLUSTER_SCHEMA:-lanyard_cluster}
[[ "$off" =~ ^[0-9]+$ ]] || { printf 'cluster: error: LANYARD_CLUSTER_PORT_OFFSET must be a number\n' >&2; exit 1; }
[[ "$schema" =~ ^[a-z_][a-z0-9_]*$ ]] || { printf 'cluster: error: LANYARD_CLUSTER_SCHEMA must be a lower-case SQL identifier\n' >&2; exit 1; }
a_web=$((18081 + off)) a_agent=$((18441 + off)) a_peer=$((18451 + off))
b_web=$((18082 + off)) b_agent=$((18442 + off)) b_peer=$((18452 + off))
GO=${GO:-go}

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

fresh=0
case "${1:-}" in
--fresh) fresh=1 ;;
"") ;;
*) die "usage: $0 [--fresh]" ;;
esac

# 1. HAProxy (Debian's package) and the build's C headers.
if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then
	log "installing haproxy with apt-get"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq haproxy >&2
fi
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
"$root/scripts/build-deps.sh"

# 2. The binary.
mkdir -p "$dir"
log "building lanyard"
(cd "$root" && $GO build -o "$dir/lanyard" ./cmd/lanyard)
lanyard="$dir/lanyard"

# 3. PostgreSQL and the cluster's schema.
pg=$("$root/scripts/postgres-test.sh")
# psql gets the password in PGPASSWORD and the URL without it: not on
# its command line either (see replica below).
pg_user_re='^([a-z]+://[^:/@]+):([^@]*)@(.*)$'
if [[ "$pg" =~ $pg_user_re ]]; then
	pg_pw=${BASH_REMATCH[2]}
	pg_nopw="${BASH_REMATCH[1]}@${BASH_REMATCH[3]}"
	pg_pw=$(printf '%b' "${pg_pw//%/\\x}") # percent-decoded
else
	pg_pw="" pg_nopw=$pg
fi
pgsql() { PGPASSWORD="$pg_pw" psql -X -q "$pg_nopw" "$@"; }
if [ "$fresh" -eq 1 ]; then
	log "--fresh: dropping schema $schema and $dir's replica data"
	pgsql -c "DROP SCHEMA IF EXISTS $schema CASCADE" >&2
	rm -rf "$dir/replica-A" "$dir/replica-B" "$dir/master.key"
fi
pgsql -c "CREATE SCHEMA IF NOT EXISTS $schema" >&2
db="$pg&search_path=$schema"

# 4. The flags this lanyard has (the cluster's flags arrived with issue 19).
flags=$("$lanyard" serve -h 2>&1 || true)
has() { grep -q -- "-$1 " <<<"$flags" || grep -q -- "-$1\$" <<<"$flags"; }

pids=()
stop() {
	trap - INT TERM EXIT
	log "stopping"
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'stop; exit 130' INT TERM
trap stop EXIT

# replica NAME WEB AGENT PEER starts one replica and waits until it is ready.
#
# The database URL, password included, goes in LANYARD_DATABASE, not on
# the command line, where every local user would read it (ps,
# /proc/PID/cmdline); the environment of another user's process is not
# readable. docs/deployment.md has the same for production, and
# PGPASSFILE (~/.pgpass) as the way to keep the password out of the URL.
#
# --trust-proxy trusts X-Forwarded-For from any loopback address, not
# just HAProxy's: a local user can reach the replicas' ports directly and
# choose the address they are throttled and audited under. Acceptable
# for this one-host demonstration; production lists the proxies' own
# addresses with --trusted-proxies (docs/deployment.md).
replica() {
	local name=$1 web=$2 agent=$3 peer=$4 data="$dir/replica-$1"
	local args=(serve --data "$data" --master-key-file "$dir/master.key"
		--listen "127.0.0.1:$web" --agent-listen "127.0.0.1:$agent"
		--url "http://127.0.0.1:$web_port" --trust-proxy)
	has peer-listen && args+=(--peer-listen "127.0.0.1:$peer")
	has agent-url && args+=(--agent-url "https://127.0.0.1:$agent_port")
	has agent-proxy-protocol && args+=(--agent-proxy-protocol 127.0.0.1/32)
	: >"$dir/replica-$name.log"
	LANYARD_DATABASE="$db" "$lanyard" "${args[@]}" >>"$dir/replica-$name.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 300); do
		grep -q '^Lanyard is ready at ' "$dir/replica-$name.log" && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	cat "$dir/replica-$name.log" >&2
	die "replica $name did not start (log above, kept in $dir/replica-$name.log)"
}

# The first replica alone first: on a first start it creates the master
# key, the CA and the administrator; the second then finds them.
log "starting replica A"
replica A "$a_web" "$a_agent" "$a_peer"
log "starting replica B"
replica B "$b_web" "$b_agent" "$b_peer"

# 5. HAProxy.
send=""
has agent-proxy-protocol && send=" send-proxy-v2"
cat >"$dir/haproxy.cfg" <<EOF
# Written by scripts/cluster.sh; docs/deployment.md explains each part.
global
	log stderr format short local0 notice
	maxconn 4096

defaults
	log global
	timeout connect 2s
	timeout client 120s
	timeout server 120s
	timeout tunnel 1h
	retries 2
	option redispatch

# The API and the pages: HTTP, any replica (no sticky sessions).
frontend web
	mode http
	bind 127.0.0.1:$web_port
	option forwardfor
	default_backend replicas_web

backend replicas_web
	mode http
	balance roundrobin
	option httpchk GET /readyz
	http-check expect status 200
	default-server inter 1s fall 2 rise 1
	server A 127.0.0.1:$a_web check
	server B 127.0.0.1:$b_web check

# Agents: TCP, TLS end to end (the workstation's client certificate is
# checked by the replica), the PROXY protocol carries its address.
frontend agents
	mode tcp
	bind 127.0.0.1:$agent_port
	default_backend replicas_agents

backend replicas_agents
	mode tcp
	balance leastconn
	default-server inter 1s fall 2 rise 1
	server A 127.0.0.1:$a_agent check$send
	server B 127.0.0.1:$b_agent check$send
EOF
"$haproxy" -c -q -f "$dir/haproxy.cfg" || die "haproxy refuses $dir/haproxy.cfg"
"$haproxy" -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$web_port/readyz" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fsS "http://127.0.0.1:$web_port/readyz" >/dev/null || { cat "$dir/haproxy.log" >&2; die "HAProxy does not answer"; }

token="$dir/replica-A/bootstrap-token"
cat <<EOF

Lanyard cluster ready: two replicas on PostgreSQL (schema $schema), HAProxy in front.

  Self-Service and console  http://127.0.0.1:$web_port/   (replica A http://127.0.0.1:$a_web, B http://127.0.0.1:$b_web)
  Agents                    https://127.0.0.1:$agent_port (replica A :$a_agent, B :$b_agent)
  Master key                $dir/master.key (both replicas read it)
  Logs                      $dir/replica-A.log, $dir/replica-B.log, $dir/haproxy.log

EOF
if [ -s "$token" ]; then
	cat <<EOF
Administrator token (made on the first start; create named staff accounts with it):
  export LANYARD_SERVER=http://127.0.0.1:$web_port LANYARD_TOKEN=\$(cat $token)
EOF
else
	echo "The first start's administrator token file is gone (revoked or expired); use a staff account's token."
fi
cat <<EOF

Pair a workstation through the load balancer, then approve its code:
  $lanyard agent --server https://127.0.0.1:$agent_port
  $lanyard workstation approve CODE

Try it: stop one replica (kill its process), and everything keeps working through the other.
Ctrl-C stops the cluster; scripts/cluster.sh starts it again with the same data (--fresh: a new one).
EOF
wait -n "${pids[@]}" || true
log "a process ended; see the logs in $dir"
