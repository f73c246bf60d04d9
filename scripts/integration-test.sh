#!/bin/sh
# integration-test.sh — runs exactly the Test functions of the files built
# only with -tags integration: those that need PostgreSQL, pcscd/vpcd,
# mailpit, swtpm, Samba, slapd, the OpenID provider (scripts/oidc-test.sh) or
# Chromium (`make test` starts them and sets the
# LANYARD_TEST_* variables). `make unit` already ran every other test with
# a plain `go test ./...`, so nothing runs twice.
set -eu
GO=${GO:-go}
cd "$(dirname "$0")/.."
files=$(grep -rl --include='*_test.go' '^//go:build integration$' cmd internal)
pkgs=$(for f in $files; do echo "./$(dirname "$f")"; done | sort -u)
names=$(grep -h '^func Test' $files | sed -E 's/^func (Test[A-Za-z0-9_]*).*/\1/' | sort -u | paste -sd'|' -)
# shellcheck disable=SC2086 # pkgs is a list of package paths
# checkptr off in transpiled SQLite only, as in make unit (Makefile).
exec $GO test -count=1 -race -gcflags='modernc.org/...=-d=checkptr=0' -tags integration -run "^($names)\$" $pkgs
