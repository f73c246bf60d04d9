#!/usr/bin/env bash
# Runs the README's "Try it" section, word for word, against a fresh server:
# the block between the "## Try it" heading and the end of its ```sh fence.
# If the README and the product drift apart, `make test` fails here.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/bin/lanyard" "$root/cmd/lanyard"
export PATH="$work/bin:$PATH"

# Port 0: the kernel picks free ports (the agent listener too, so a server
# already on 8443 does not stop this one); the server prints its URL when ready.
lanyard serve --data "$work/data" --listen 127.0.0.1:0 --agent-listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
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

awk '/^## Try it/{found=1; next} found && /^```sh/{inblock=1; next} inblock && /^```/{exit} inblock{print}' \
  "$root/README.md" >"$work/try-it.sh"
test -s "$work/try-it.sh" || { echo "README.md has no '## Try it' sh block"; exit 1; }

cd "$work"
if ! bash -euo pipefail "$work/try-it.sh"; then
  echo "--- README 'Try it' failed; server log:"; cat "$work/server.log"; exit 1
fi
echo "README 'Try it' passed"
