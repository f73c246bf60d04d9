package issuance

import (
	"slices"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// An archive-key template's key is made on the server, archived, and put
// on the card with IMPORT KEY (docs/lifecycle.md, "Key archival"), so the
// card must import a key of the algorithm chosen for it, not only hold
// one. PIV cards and AirCards import every algorithm they hold. The key
// store of a TPM virtual card or platform credential imports RSA 2048 and
// 3072 only (TPM2_Import under the SRK, tpmkeys.Store.ImportForPIN) and
// refuses EC keys and RSA 4096 (6A81): an issue refused when the plan is
// made, before any key is generated or the card changed, rather than
// when the card refuses the key that the server has already archived.

// tpmImports are the algorithms a TPM card's key store imports.
var tpmImports = []lanyard.KeyAlgorithm{lanyard.RSA2048, lanyard.RSA3072}

// archiveImports is the algorithms a card of type ct imports for
// template t's key when t archives it; nil when any algorithm the card
// type holds will do (t does not archive, or the card imports them all).
func archiveImports(t *lanyard.Template, ct *lanyard.CardType) []lanyard.KeyAlgorithm {
	if !t.KeyArchival {
		return nil
	}
	switch ct.Kind {
	case lanyard.KindTPMVirtualCard, lanyard.KindPlatformCredential:
		return tpmImports
	}
	return nil
}

// importable reports whether a card of type ct takes template t's key of
// algorithm alg (archiveImports).
func importable(t *lanyard.Template, ct *lanyard.CardType, alg lanyard.KeyAlgorithm) bool {
	imports := archiveImports(t, ct)
	return imports == nil || slices.Contains(imports, alg)
}

// CheckArchivedKey refuses key algorithm alg for template t on a card of
// type ct when t archives its key and the card cannot import a key of
// alg. KeyAlgorithm never chooses such an algorithm; the card issue
// checks again before it makes and archives a key for a plan recorded
// before the rule.
func CheckArchivedKey(t *lanyard.Template, ct *lanyard.CardType, alg lanyard.KeyAlgorithm) error {
	if importable(t, ct, alg) {
		return nil
	}
	return archiveRefusal(t, ct)
}

// archiveRefusal is the refusal of archive-key template t on a card of
// type ct that imports none of t's algorithms.
func archiveRefusal(t *lanyard.Template, ct *lanyard.CardType) error {
	return lanyard.Errorf(lanyard.EInvalid, "template %q archives its key, which is made on the server and imported into the card, and a card of type %q (%s) imports only RSA 2048 and RSA 3072 keys into its TPM; allow an RSA 2048 or RSA 3072 algorithm on the template (it allows %v), or turn archive key off",
		t.Name, ct.Name, ct.Kind, t.KeyAlgs)
}

// KindImports reports whether a card of kind imports a key of algorithm
// alg: a TPM card's key store RSA 2048 and 3072 only, every other kind
// any algorithm it holds. An archived key recovered onto a card
// (internal/service/cardops, retired slots) is imported like a new one.
func KindImports(kind lanyard.CardKind, alg lanyard.KeyAlgorithm) bool {
	switch kind {
	case lanyard.KindTPMVirtualCard, lanyard.KindPlatformCredential:
		return slices.Contains(tpmImports, alg)
	}
	return true
}
