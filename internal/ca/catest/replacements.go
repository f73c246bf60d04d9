package catest

import "github.com/lanyard-cms/lanyard/internal/lanyard"

func (*tx) CreateCardReplacement(*lanyard.CardReplacement) error {
	return notImplemented("CreateCardReplacement")
}

func (*tx) UpdateCardReplacement(*lanyard.CardReplacement) error {
	return notImplemented("UpdateCardReplacement")
}

func (*tx) CardReplacementsOf(int64) ([]*lanyard.CardReplacement, error) {
	return nil, notImplemented("CardReplacementsOf")
}

func (*tx) OpenReplacementByNew(int64) (*lanyard.CardReplacement, error) {
	return nil, notImplemented("OpenReplacementByNew")
}
