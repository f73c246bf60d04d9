package main

import (
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// card update picks the card as card issue does (--card SERIAL, or the
// only one), or by --reader and --workstation, and refuses a card Lanyard
// does not know: an update changes an issued card, named by its ID in the
// API's path.
func TestUpdateTarget(t *testing.T) {
	mine := &apiv1.ConnectedCard{WorkstationID: 1, Workstation: "pc", Reader: "Reader 0", Serial: "45600943", CardID: 8}
	other := &apiv1.ConnectedCard{WorkstationID: 1, Workstation: "pc", Reader: "Reader 1", Serial: "45600944", CardID: 9}
	blank := &apiv1.ConnectedCard{WorkstationID: 2, Workstation: "lab", Reader: "Reader 0", Serial: "11111111"}
	for _, tc := range []struct {
		name               string
		cards              []*apiv1.ConnectedCard
		serial, ws, reader string
		want               int64  // card ID chosen, 0: refused
		err                string // part of the refusal
	}{
		{"the only card", []*apiv1.ConnectedCard{mine}, "", "", "", 8, ""},
		{"by serial", []*apiv1.ConnectedCard{mine, other}, "45600944", "", "", 9, ""},
		{"by reader", []*apiv1.ConnectedCard{mine, other}, "", "", "Reader 1", 9, ""},
		{"by reader and workstation name", []*apiv1.ConnectedCard{mine, blank}, "", "pc", "Reader 0", 8, ""},
		{"by reader and workstation ID", []*apiv1.ConnectedCard{mine, blank}, "", "1", "Reader 0", 8, ""},
		{"a reader at two workstations", []*apiv1.ConnectedCard{mine, blank}, "", "", "Reader 0", 0, "choose one with --card"},
		{"several cards", []*apiv1.ConnectedCard{mine, other}, "", "", "", 0, "choose one with --card"},
		{"no such reader", []*apiv1.ConnectedCard{mine}, "", "", "Reader 9", 0, `no card is in reader "Reader 9"`},
		{"not registered", []*apiv1.ConnectedCard{blank}, "", "", "", 0, "is not registered with Lanyard: issue it first"},
		{"nothing connected", nil, "", "", "", 0, "no card is connected"},
	} {
		got, err := updateTarget(tc.cards, tc.serial, tc.ws, tc.reader)
		switch {
		case tc.want != 0 && (err != nil || got.CardID != tc.want):
			t.Errorf("%s: %+v, %v; want card %d", tc.name, got, err, tc.want)
		case tc.want == 0 && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %+v, %v; want a refusal saying %q", tc.name, got, err, tc.err)
		}
	}
}

// The dry run's table and the card's update line say per slot what
// happens and why, with the old serial and expiry.
func TestUpdateRowsAndLine(t *testing.T) {
	exp := time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)
	renew := issuance.UpdateSlot{SlotPlan: issuance.SlotPlan{Slot: "9a", Template: "Logon", NeedCA: true}, Action: issuance.ActionRenew,
		Key: lanyard.RenewalNewKey, Reasons: []issuance.UpdateReason{issuance.ReasonExpiring, issuance.ReasonTemplateChanged}, Old: "1F2E", NotAfter: exp}
	add := issuance.UpdateSlot{SlotPlan: issuance.SlotPlan{Slot: "9d", Template: "Mail"}, Action: issuance.ActionAdd, Key: lanyard.RenewalNewKey, Reasons: []issuance.UpdateReason{issuance.ReasonAdded}}
	if got, want := strings.Join(updateRow(renew), "|"), "9a|Logon|renew|new_key|expiring,template_changed|1F2E|2027-01-15|CA"; got != want {
		t.Errorf("renew row %q, want %q", got, want)
	}
	if got, want := strings.Join(updateRow(add), "|"), "9d|Mail|add|new_key|added|-|-|-"; got != want {
		t.Errorf("add row %q, want %q", got, want)
	}
	for _, tc := range []struct {
		u    *apiv1.CardUpdate
		want string
	}{
		{nil, ""},
		{&apiv1.CardUpdate{Due: false}, ""},
		{&apiv1.CardUpdate{Due: true, Changes: []issuance.UpdateSlot{renew, add}}, "due: 9a Logon renew (expiring,template_changed), 9d Mail add (added) (lanyard card update)"},
		{&apiv1.CardUpdate{Due: true, UnfinishedOperation: &lanyard.Operation{ID: 12, CardID: 3, State: lanyard.OpPending}}, "operation 12 is pending (lanyard card update-continue 3)"},
	} {
		if got := updateLine(tc.u); got != tc.want {
			t.Errorf("updateLine(%+v) = %q, want %q", tc.u, got, tc.want)
		}
	}
}
