// Package vpcdtest helps test virtual cards: a fake vpcd that speaks the
// driver's side of the wire protocol in-process (for fast unit tests of
// the bridge and of card emulators through it), and the helpers that tests
// against the real pcscd share: the LANYARD_TEST_VPCD address, a lock that
// keeps test processes from using one vpcd slot at once, and the names of
// the readers scripts/pcscd-test.sh configures.
//
// The fake implements the framing itself rather than importing package
// vpcd, so that it checks the bridge instead of agreeing with it.
package vpcdtest
