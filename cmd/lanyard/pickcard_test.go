package main

import (
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// --card SERIAL takes a card listed in several readers only when every
// listing is the same registered card (an AirCard at its computers and
// its service): a reader elsewhere that claims the serial makes the
// choice ambiguous, and the CLI refuses to guess.
func TestChooseConnected(t *testing.T) {
	air := func(ws int64, reader string) *apiv1.ConnectedCard {
		return &apiv1.ConnectedCard{WorkstationID: ws, Workstation: "pc", Reader: reader, Serial: "51700827", CardID: 7, Kind: lanyard.KindAirCard}
	}
	// The server names a listing's card by the serial its reader claims:
	// a pretender to a known PIV card's serial gets that card's ID.
	piv := func(ws int64) *apiv1.ConnectedCard {
		return &apiv1.ConnectedCard{WorkstationID: ws, Workstation: "pc", Reader: "r", Serial: "45600943", CardID: 8, Kind: lanyard.KindPIV}
	}
	spoof := &apiv1.ConnectedCard{WorkstationID: 9, Workstation: "other", Reader: "r", Serial: "51700827"}
	blank := &apiv1.ConnectedCard{WorkstationID: 2, Workstation: "pc2", Reader: "r2", Serial: "11111111"}
	for _, tc := range []struct {
		name   string
		cards  []*apiv1.ConnectedCard
		serial string
		want   int64  // workstation chosen, 0: refused
		err    string // part of the refusal
	}{
		{"one AirCard at its computer and its service", []*apiv1.ConnectedCard{air(3, "AirCard 1"), air(4, "svc")}, "51700827", 3, ""},
		{"a second reader claims the serial", []*apiv1.ConnectedCard{air(3, "AirCard 1"), spoof}, "51700827", 0, "not one registered card"},
		{"two unregistered cards with one serial", []*apiv1.ConnectedCard{spoof, {WorkstationID: 10, Reader: "x", Serial: "51700827"}}, "51700827", 0, "not one registered card"},
		{"a pretender to a known PIV card's serial", []*apiv1.ConnectedCard{piv(3), piv(9)}, "45600943", 0, "not one registered card"},
		{"a pretender to an AirCard as a PIV card", []*apiv1.ConnectedCard{air(3, "AirCard 1"), {WorkstationID: 9, Reader: "r", Serial: "51700827", CardID: 7, Kind: lanyard.KindPIV}}, "51700827", 0, "not one registered card"},
		{"the only card", []*apiv1.ConnectedCard{blank}, "", 2, ""},
		{"several cards, no serial", []*apiv1.ConnectedCard{blank, air(3, "AirCard 1")}, "", 0, "choose one with --card"},
		{"serial not connected", []*apiv1.ConnectedCard{blank}, "999", 0, "not connected"},
		{"nothing connected", nil, "", 0, "no card is connected"},
	} {
		got, err := chooseConnected(tc.cards, tc.serial)
		switch {
		case tc.want != 0 && (err != nil || got.WorkstationID != tc.want):
			t.Errorf("%s: %+v, %v; want workstation %d", tc.name, got, err, tc.want)
		case tc.want == 0 && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %+v, %v; want a refusal saying %q", tc.name, got, err, tc.err)
		}
	}
}
