#!/usr/bin/env bash
# Runs the README's "Try it" section, word for word, against a fresh
# server started as `make run` starts it (with --demo): the first ```sh
# block after the "## Try it" heading, then the one after "### A card's
# life" (the demo user's card: issue, PIN blocked, unblocked, disabled,
# enabled, revoked as lost, replaced). If the README and the product drift
# apart, `make test` fails here.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/bin/lanyard" "$root/cmd/lanyard"
export PATH="$work/bin:$PATH"

# Port 0: the kernel picks free ports (the agent listener too, so a server
# already on 8443 does not stop this one); the server prints its URL when ready.
lanyard serve --data "$work/data" --listen 127.0.0.1:0 --agent-listen 127.0.0.1:0 --demo >"$work/server.log" 2>&1 &
pid=$!
url=""
for _ in $(seq 200); do
  url=$(sed -n 's/^Lanyard is ready at \(http[^ ]*\)$/\1/p' "$work/server.log")
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] && curl -fsS "$url/readyz" >/dev/null || { echo "server did not start:"; cat "$work/server.log"; exit 1; }

export LANYARD_SERVER="$url"
export LANYARD_TOKEN=$(cat "$work/data/bootstrap-token")

# block HEADING prints the first ```sh block after the line HEADING.
block() {
  awk -v h="$1" '$0 == h {found=1; next} found && /^```sh/{inblock=1; next} inblock && /^```/{exit} inblock{print}' "$root/README.md"
}
block "## Try it" >"$work/try-it.sh"
block "### A card's life" >"$work/lifecycle.sh"
test -s "$work/try-it.sh" || { echo "README.md has no '## Try it' sh block"; exit 1; }
test -s "$work/lifecycle.sh" || { echo "README.md has no \"### A card's life\" sh block"; exit 1; }


# The demo's agent pairs itself as the server starts; the lifecycle block
# needs its card connected.
for _ in $(seq 200); do
  lanyard card list --connected 2>/dev/null | grep -q "Lanyard demo reader" && break
  sleep 0.1
done

cd "$work"
for script in try-it.sh lifecycle.sh; do
  if ! bash -euo pipefail "$work/$script"; then
    echo "--- README 'Try it' ($script) failed; server log:"; cat "$work/server.log"; exit 1
  fi
done
echo "README 'Try it' passed"
