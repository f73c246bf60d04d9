# Lanyard: the commands of the README are `make run`, `make test` and `make cluster`.
GO       ?= go
FUZZTIME ?= 5s
export GOFLAGS ?= -buildvcs=false

.PHONY: run build test check unit integration try-it fuzz bench cluster clean

## run: start the server on http://127.0.0.1:8080 with SQLite and the built-in CA in ./data
run:
	scripts/build-deps.sh
	$(GO) run ./cmd/lanyard serve --data ./data --listen 127.0.0.1:8080 --demo

## cluster: two replicas on PostgreSQL with one master key and HAProxy in front (HTTP for the API and pages, TCP for agents); Ctrl-C stops it (docs/deployment.md)
cluster:
	GO=$(GO) scripts/cluster.sh

build:
	scripts/build-deps.sh
	$(GO) build -o bin/lanyard ./cmd/lanyard

## test: install what the tests need, start PostgreSQL, run every check and test
test:
	scripts/test-deps.sh
	scripts/card-deps.sh
	$(MAKE) check
	scripts/pcscd-test.sh >/dev/null  # fails here, loudly, if pcscd cannot start
	scripts/mailpit-test.sh >/dev/null  # builds mailpit on first use; fails here, loudly, if it cannot start
	scripts/swtpm-test.sh >/dev/null  # installs swtpm on first use; fails here, loudly, if it cannot start
	scripts/samba-test.sh >/dev/null  # installs samba and provisions an AD DC on first use (a minute); fails here, loudly, if it cannot start
	scripts/slapd-test.sh >/dev/null  # installs slapd on first use; fails here, loudly, if it cannot start
	GO=$(GO) scripts/oidc-test.sh >/dev/null  # builds the OpenID provider on first use; fails here, loudly, if it cannot start
	$(MAKE) unit
	LANYARD_TEST_POSTGRES="$$(scripts/postgres-test.sh)" LANYARD_TEST_VPCD="$$(scripts/pcscd-test.sh)" LANYARD_TEST_SMTP="$$(GO=$(GO) scripts/mailpit-test.sh)" LANYARD_TEST_SWTPM="$$(scripts/swtpm-test.sh)" LANYARD_TEST_SAMBA="$$(scripts/samba-test.sh)" LANYARD_TEST_SLAPD="$$(scripts/slapd-test.sh)" LANYARD_TEST_OIDC="$$(GO=$(GO) scripts/oidc-test.sh)" $(MAKE) integration
	GO=$(GO) LANYARD_TEST_VPCD="$$(scripts/pcscd-test.sh)" scripts/pivgo-suite.sh
	$(MAKE) fuzz
	scripts/try-it.sh

check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -tags integration ./...

## unit: every test that needs only Go, with the services' variables unset (what a plain `go test ./...` runs anywhere)
# -race turns on checkptr everywhere; in modernc.org/sqlite, SQLite
# transpiled from C, it checks every pointer step of the SQL parser and
# doubles the run. Our own code keeps it (and the race detector covers all).
# The card operations' interruption sweeps (Test…Anywhere…: the whole
# operation again for each APDU the card may be pulled at, hundreds of
# sequential runs on one goroutine) run without the race detector, which
# would multiply their minutes tenfold and find nothing a sequential run
# can show; everything else runs with it.
unit:
	env -u LANYARD_TEST_POSTGRES -u LANYARD_TEST_VPCD -u LANYARD_TEST_SMTP -u LANYARD_TEST_SWTPM -u LANYARD_TEST_SAMBA -u LANYARD_TEST_SLAPD -u LANYARD_TEST_OIDC $(GO) test -count=1 -race -gcflags='modernc.org/...=-d=checkptr=0' -skip 'Anywhere' ./...
	env -u LANYARD_TEST_POSTGRES -u LANYARD_TEST_VPCD -u LANYARD_TEST_SMTP -u LANYARD_TEST_SWTPM -u LANYARD_TEST_SAMBA -u LANYARD_TEST_SLAPD -u LANYARD_TEST_OIDC $(GO) test -count=1 -run 'Anywhere' ./...

## integration: the tests of the files built with -tags integration, on the services make test starts
integration:
	@test -n "$$LANYARD_TEST_POSTGRES" || { echo "LANYARD_TEST_POSTGRES is not set (make test sets it)"; exit 1; }
	@test -n "$$LANYARD_TEST_VPCD" || { echo "LANYARD_TEST_VPCD is not set (make test sets it)"; exit 1; }
	@test -n "$$LANYARD_TEST_SMTP" || { echo "LANYARD_TEST_SMTP is not set (make test sets it)"; exit 1; }
	@test -n "$$LANYARD_TEST_SWTPM" || { echo "LANYARD_TEST_SWTPM is not set (make test sets it)"; exit 1; }
	@test -n "$$LANYARD_TEST_SAMBA" || { echo "LANYARD_TEST_SAMBA is not set (make test sets it)"; exit 1; }
	@test -n "$$LANYARD_TEST_SLAPD" || { echo "LANYARD_TEST_SLAPD is not set (make test sets it)"; exit 1; }
	@test -n "$$LANYARD_TEST_OIDC" || { echo "LANYARD_TEST_OIDC is not set (make test sets it)"; exit 1; }
	GO=$(GO) scripts/integration-test.sh

## fuzz: run each fuzz target briefly (FUZZTIME=1m make fuzz for longer)
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

try-it:
	scripts/try-it.sh

## bench: issuance against raw signing (SQLite, PostgreSQL), start-up, card operations in process and through pcscd, relayed APDUs, card issue (one card, 200 at once), PIN reset and offline unblock response (one, 200 resets at once), TPM and AirCard signatures, 10,000 idle AirCards, the Card Monitor over 200,000 cards and 1,000,000 certificates (PostgreSQL), the directory read of 50,000 users in 2,000 groups (OpenLDAP) and of 5,000 users (Samba AD), the cluster (card issue through the replica holding the agent and through another, issuance with 1, 2, 3 replicas)
bench:
	LANYARD_TEST_POSTGRES="$$(scripts/postgres-test.sh)" $(GO) test -run '^$$' -bench Issuance -benchtime 5s -count 4 ./internal/bench/
	$(GO) test -run '^$$' -bench ServerStart -benchtime 10x ./internal/bench/
	LANYARD_TEST_VPCD="$$(scripts/pcscd-test.sh)" $(GO) test -run '^$$' -bench 'Card(APDU|Personalize)' -benchtime 1s ./internal/bench/
	LANYARD_TEST_VPCD="$$(scripts/pcscd-test.sh)" $(GO) test -run '^$$' -bench AgentRelay -benchtime 5000x ./internal/bench/
	LANYARD_TEST_VPCD="$$(scripts/pcscd-test.sh)" $(GO) test -run '^$$' -bench 'Card(Issue|Update)$$' -benchtime 20x -count 3 ./internal/bench/
	$(GO) test -run '^$$' -bench 'Card(Issue|Update)Concurrent' -benchtime 1x -count 3 ./internal/bench/
	$(GO) test -run '^$$' -bench CardUpdateRevoked -benchtime 5x ./internal/bench/
	LANYARD_TEST_VPCD="$$(scripts/pcscd-test.sh)" $(GO) test -run '^$$' -bench 'PINReset$$|OfflineUnblockResponse|DurableCommit' -benchtime 20x ./internal/bench/
	$(GO) test -run '^$$' -bench PINResetConcurrent -benchtime 1x ./internal/bench/
	LANYARD_TEST_SWTPM="$$(scripts/swtpm-test.sh)" $(GO) test -run '^$$' -bench SignRSA2048 -benchtime 200x -count 2 ./internal/card/tpmkeys/
	$(GO) test -run '^$$' -bench AirCardSign -benchtime 200x -count 2 ./internal/bench/
	LANYARD_TEST_POSTGRES="$$(scripts/postgres-test.sh)" LANYARD_BENCH_MONITOR_CARDS=200000 $(GO) test -run '^$$' -bench CardMonitor -benchtime 1x -timeout 60m ./internal/bench/
	LANYARD_TEST_SLAPD="$$(scripts/slapd-test.sh)" LANYARD_BENCH_DIRECTORY_USERS=50000 $(GO) test -run '^$$' -bench 'DirectoryRead$$' -benchtime 3x -timeout 60m ./internal/bench/ # loads the users once (a few minutes), then reuses them
	LANYARD_TEST_SAMBA="$$(scripts/samba-test.sh)" $(GO) test -run '^$$' -bench DirectoryReadAD -benchtime 3x -timeout 60m ./internal/bench/ # 5,000 users, loaded once
	LANYARD_TEST_POSTGRES="$$(scripts/postgres-test.sh)" LANYARD_TEST_VPCD="$$(scripts/pcscd-test.sh)" $(GO) test -run '^$$' -bench ClusterCardIssue -benchtime 20x -count 3 ./internal/bench/ # two replicas as processes: issue through the agent's replica and through the other (forwarded)
	LANYARD_TEST_POSTGRES="$$(scripts/postgres-test.sh)" $(GO) test -run '^$$' -bench ClusterIssuance -benchtime 5s -count 2 ./internal/bench/ # 1, 2 and 3 replicas on one PostgreSQL
	ulimit -n 20000 2>/dev/null || ulimit -n $$(ulimit -Hn); LANYARD_BENCH_AIRCARDS=10000 $(GO) test -run '^$$' -bench AirCardIdle -benchtime 1x -timeout 40m ./internal/bench/ # 20,000 descriptors: both ends of each connection

clean:
	rm -rf bin
