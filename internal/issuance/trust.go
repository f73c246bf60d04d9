package issuance

import "github.com/lanyard-cms/lanyard/internal/lanyard"

// Trust rules every issuing path applies (docs/architecture.md, "Issuing a
// certificate"; docs/security.md, "Approvals (four eyes)"): the certificate API, the card flows
// and software stores call these, so that no path is more lenient than
// another.

// SecondPerson reports whether a certificate that requester asks for on
// owner's behalf needs a second person's approval in the CA, whatever its
// template says: someone who obtains a certificate in another person's
// name (an operator at the help desk, a CA manager for "their" user) must
// not be the only one who decided it. requester 0 means the owner (a
// decision made again from a recorded plan).
func SecondPerson(requester, owner int64) bool {
	return requester != 0 && requester != owner
}

// OnBehalf reports whether the caller asks for another person (SecondPerson).
func (in *Input) OnBehalf() bool { return SecondPerson(in.Requester, in.OwnerID) }

// Issuable checks that template t may certify a key held by a card of type
// ct; ct nil is a key from outside any card (a CSR or a public key sent to
// the certificate API). A card-keys-only template certifies only keys
// generated on a card, which never leave it; one with an extended key
// usage no user certificate may carry (stored before that rule) is not
// issued from at all.
func Issuable(t *lanyard.Template, ct *lanyard.CardType) error {
	if err := t.CheckExtKeyUsage(); err != nil {
		return err
	}
	if !t.CardKeysOnly {
		return nil
	}
	if ct != nil {
		if r, _ := ct.Kind.Rules(); r.KeysOnCard {
			return nil
		}
		return lanyard.Errorf(lanyard.EForbidden, "template %q certifies only keys generated on a card, and a %s is not one; issue it on a card", t.Name, ct.Name)
	}
	return lanyard.Errorf(lanyard.EForbidden, "template %q certifies only keys generated on a card; it is not issued for a CSR or a public key: issue it on a card (lanyard card issue)", t.Name)
}
