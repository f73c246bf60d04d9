package piv

import (
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// KeyRef is a key reference of SP 800-73-4 Part 1 table 4 and Part 2
// table 4; see pivspec for the values.
type KeyRef = pivspec.KeyRef

// Slot is an asymmetric key slot: its key reference, with the data object
// that holds the slot's certificate; see pivspec for the values.
type Slot = pivspec.Slot

// checkSlot refuses slots that are not PIV key slots before anything is
// sent.
func checkSlot(op string, s Slot) error {
	if !s.Valid() {
		return fmt.Errorf("piv: %s: %02X is not a PIV key slot", op, byte(s))
	}
	return nil
}
