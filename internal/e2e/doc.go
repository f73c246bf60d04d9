// Package e2e holds Lanyard's end-to-end tests of issuing a card (issue
// #4) on the real stack: the machine's pcscd with vpcd, the PIV emulator
// attached through vpcd, a real agent (agent.Run with PC/SC readers)
// paired to a real server, headless Chromium driving Self-Service, the
// lanyard binary, and OpenSC's pkcs11-tool and openssl checking the cards
// afterwards. The documents check of issue #5 (documents_e2e_test.go)
// adds a real SMTP server: a mailpit process per test, from the binary
// scripts/mailpit-test.sh builds. It has no code outside its tests.
//
// Like the other real-stack tests, they fail (never skip) when
// LANYARD_TEST_VPCD, LANYARD_TEST_SMTP, Chromium or the card tools are
// missing: run them with `make test`, or as root:
//
//	LANYARD_TEST_VPCD=$(scripts/pcscd-test.sh) LANYARD_TEST_SMTP=$(scripts/mailpit-test.sh) go test -tags integration ./internal/e2e/
//
// Screenshots of every Self-Service state go to
// $LANYARD_TEST_OUT/e2e/TEST/ (default /tmp/lanyard-test-out).
package e2e
