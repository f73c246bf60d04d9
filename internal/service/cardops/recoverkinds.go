package cardops

import (
	"slices"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Earlier keys on the card kinds other than PIV cards (docs/lifecycle.md,
// "Key archival"). TPM virtual cards, platform credentials and AirCards
// are the PIV card emulator over another key store: they have the
// retired key management slots 82 to 95 and the Key History Object, and
// take keys there with IMPORT KEY as a PIV card does. An AirCard's key
// store imports every algorithm it holds; a TPM card's imports RSA 2048
// and 3072 only (TPM2_Import, tpmkeys.Store.ImportForPIN), so an
// earlier key of another algorithm (an EC key archived from a PIV card or
// an AirCard) is skipped: the card gets the owner's other keys, and the
// key.recover event names the skipped keys with the reason (recovery
// and the card's result say so too). Skipping, rather than refusing the
// whole recovery, lets a TPM card still open the mail of its owner's RSA
// keys; the skipped keys stay recoverable as PKCS #12 files.

// holdsRetiredKeys reports whether a card of kind has retired key
// management slots Lanyard recovers earlier keys into: every kind but a
// software store (a PKCS #12 file in a certificate store).
func holdsRetiredKeys(kind lanyard.CardKind) bool {
	return kind != lanyard.KindSoftwareStore && slices.Contains(lanyard.AllCardKinds, kind)
}

// cardImports keeps of keys those a card of kind can import
// (issuance.KindImports), in their order; like slices.DeleteFunc it
// reuses keys, which the caller no longer uses.
func cardImports(kind lanyard.CardKind, keys []*lanyard.ArchivedKey) []*lanyard.ArchivedKey {
	return slices.DeleteFunc(keys, func(k *lanyard.ArchivedKey) bool { return !issuance.KindImports(kind, k.Algorithm) })
}

// skippedKeysTx lists, in tx, ownerID's active archived keys (not of
// the certificate serials in except) a card of kind cannot import,
// newest first: the keys a recovery onto it leaves out.
func skippedKeysTx(tx lanyard.Tx, ownerID int64, kind lanyard.CardKind, except map[string]bool) ([]*lanyard.ArchivedKey, error) {
	if !holdsRetiredKeys(kind) || kind == lanyard.KindPIV || kind == lanyard.KindAirCard {
		return nil, nil
	}
	tpls, err := allTemplates(tx)
	if err != nil {
		return nil, err
	}
	keys, err := activeArchivedKeys(tx, ownerID, tpls, except)
	return slices.DeleteFunc(keys, func(k *lanyard.ArchivedKey) bool { return issuance.KindImports(kind, k.Algorithm) }), err
}

// skippedDetails is what the key.recover event says of the keys skipped
// (nil for none): per key its ID, algorithm and the reason.
func skippedDetails(kind lanyard.CardKind, keys []*lanyard.ArchivedKey) []map[string]any {
	var out []map[string]any
	for _, k := range keys {
		out = append(out, map[string]any{"archived_key": k.ID, "key_algorithm": k.Algorithm, "serial": k.CertificateSerial,
			"reason": "a " + string(kind) + " card imports only RSA 2048 and RSA 3072 keys into its TPM"})
	}
	return out
}

// SkippedNote is what a recovery's result says of n earlier keys of the
// owner a card of kind cannot import ("" for none).
func SkippedNote(kind lanyard.CardKind, n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "1 earlier encryption key is not an RSA 2048 or RSA 3072 key, which a " + string(kind) + " card cannot import: recover it as a PKCS #12 file"
	}
	return strconv.Itoa(n) + " earlier encryption keys are not RSA 2048 or RSA 3072 keys, which a " + string(kind) + " card cannot import: recover them as PKCS #12 files"
}

// joinNotes joins the notes that are not empty.
func joinNotes(notes ...string) string {
	return strings.Join(slices.DeleteFunc(notes, func(n string) bool { return n == "" }), "; ")
}

// requestsImportable refuses staff's key recovery requests for keys
// (wanted, of the owner's keys found) that c's card cannot import, before
// any is used: a request is spent only on a key the card takes.
func requestsImportable(c *recoverKeysCard, found []*lanyard.ArchivedKey, wanted []int64) error {
	for _, k := range found {
		if slices.Contains(wanted, k.ID) && !issuance.KindImports(c.ct.Kind, k.Algorithm) {
			return lanyard.Errorf(lanyard.EInvalid, "archived key %d is a %s key, which card %s (a %s card) cannot import: recover it as a PKCS #12 file", k.ID, k.Algorithm, c.card.Serial, c.ct.Kind)
		}
	}
	return nil
}
