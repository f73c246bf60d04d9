package catest

import "github.com/lanyard-cms/lanyard/internal/lanyard"

func (*tx) CardPINStatus(int64) (*lanyard.CardPINStatus, error) {
	return nil, notImplemented("CardPINStatus")
}
func (*tx) PutCardPINStatus(*lanyard.CardPINStatus) error { return notImplemented("PutCardPINStatus") }
