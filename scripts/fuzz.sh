#!/usr/bin/env bash
# Runs every `go test -fuzz` target in the module for the given time each.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-5s}
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r file; do
  pkg="./$(dirname "${file#./}")"
  for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
    echo "fuzz $pkg $target ($fuzztime)"
    log=$(mktemp)
    # A short -fuzzminimizetime: with the default (60 s) a run of a few
    # seconds can end while a worker minimizes a new input, which Go then
    # reports as "context deadline exceeded" although nothing failed.
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 1s "$pkg" >"$log" 2>&1; then
      # Go's fuzzing coordinator sometimes reports "context deadline
      # exceeded" when -fuzztime ends while a worker is busy with a new
      # input; that is not a finding. A finding always names its input.
      if grep -q 'context deadline exceeded' "$log" && ! grep -q -e 'Failing input' -e 'panic:' -e 'hung or terminated' "$log"; then
        echo "  (ended during minimization; no failing input)"
      else
        cat "$log"; rm -f "$log"; exit 1
      fi
    fi
    rm -f "$log"
  done
done
