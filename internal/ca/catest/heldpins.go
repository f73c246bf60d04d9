package catest

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Held PINs belong to card issues, which no CA test runs.

func (*tx) CreateHeldPIN(*lanyard.HeldPIN) error { return notImplemented("CreateHeldPIN") }
func (*tx) HeldPIN(int64, lanyard.HeldPINPurpose) (*lanyard.HeldPIN, error) {
	return nil, notImplemented("HeldPIN")
}
func (*tx) HeldPINsOf(int64, lanyard.HeldPINPurpose) ([]*lanyard.HeldPIN, error) {
	return nil, notImplemented("HeldPINsOf")
}
func (*tx) MarkHeldPINMailed(int64, string) error { return notImplemented("MarkHeldPINMailed") }
func (*tx) DeleteHeldPIN(int64, lanyard.HeldPINPurpose) error {
	return notImplemented("DeleteHeldPIN")
}
func (*tx) DeleteCardHeldPINs(int64) (int, error) { return 0, notImplemented("DeleteCardHeldPINs") }
func (*tx) DeleteExpiredHeldPINs(time.Time) ([]int64, error) {
	return nil, notImplemented("DeleteExpiredHeldPINs")
}
