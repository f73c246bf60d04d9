package web

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// everyFieldSet fails when in and out differ in field count or out has a
// zero field: a field added to a cardops result and not copied by its
// converter would silently vanish from the API. (The converters that are
// plain type conversions are checked by the compiler.)
func everyFieldSet(t *testing.T, in, out any) {
	t.Helper()
	iv, ov := reflect.Indirect(reflect.ValueOf(in)), reflect.Indirect(reflect.ValueOf(out))
	if n, m := iv.NumField(), ov.NumField(); n != m {
		t.Fatalf("%s has %d fields, %s %d", iv.Type(), n, ov.Type(), m)
	}
	for i := range ov.NumField() {
		if iv.Field(i).IsZero() {
			t.Fatalf("test input leaves %s.%s unset", iv.Type(), iv.Type().Field(i).Name)
		}
		if ov.Field(i).IsZero() {
			t.Errorf("%s.%s not copied", ov.Type(), ov.Type().Field(i).Name)
		}
	}
}

func TestCardConvertersKeepEveryField(t *testing.T) {
	view := &cardops.CardView{
		Card: &lanyard.Card{ID: 3}, Kind: lanyard.CardKind("piv"), Owner: "alice",
		Certificates:      []*cardops.CardCertificate{{ID: 9, Serial: "0a"}},
		Operations:        []*lanyard.Operation{{ID: 4}},
		AllowedOperations: []cardperm.Op{cardperm.Disable},
		ReplacedBy:        &cardops.ReplacementView{CardReplacement: &lanyard.CardReplacement{ID: 1, NewCardID: 8}, OldSerial: "0b", NewSerial: "0c"},
		Replaces:          &cardops.ReplacementView{CardReplacement: &lanyard.CardReplacement{ID: 2, OldCardID: 7}, OldSerial: "0d", NewSerial: "0b"},
		PIN: &cardops.CardPIN{CardPINStatus: lanyard.CardPINStatus{CardID: 3, PINState: lanyard.PINState{TriesLeft: 0, TriesTotal: 3, PUKTriesLeft: -1}, Blocked: true,
			ReportedAt: time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC), WorkstationID: 2}, Workstation: "pc"},
		ContentStatus: lanyard.ContentManagedExpiring,
		Update: &cardops.UpdateStatus{Due: true, Changes: []issuance.UpdateSlot{{SlotPlan: issuance.SlotPlan{Slot: "9a"}, Action: issuance.ActionRenew}},
			Unfinished: &lanyard.Operation{ID: 6, Kind: lanyard.OpUpdate}},
		RecoverableKeys: 2,
	}
	everyFieldSet(t, view, toCardView(view))
	everyFieldSet(t, view.Update, toCardView(view).Update)
	if got := toCardView(view); got.ReplacedBy.NewSerial != "0c" || got.Replaces.OldCardID != 7 {
		t.Errorf("replacements not converted: %+v %+v", got.ReplacedBy, got.Replaces)
	}
	// The counts a card did not give are left out, those it gave (0
	// included) are not.
	if pin := toCardView(view).PIN; !pin.Blocked || pin.TriesLeft == nil || *pin.TriesLeft != 0 || *pin.TriesTotal != 3 || pin.PUKTriesLeft != nil ||
		pin.WorkstationID != 2 || pin.Workstation != "pc" || !pin.ReportedAt.Equal(view.PIN.ReportedAt) {
		t.Errorf("PIN status converted to %+v", pin)
	}
	if got := toCardView(view); len(got.AllowedOperations) != 1 || got.AllowedOperations[0] != "disable" {
		t.Errorf("allowed operations not converted: %v", got.AllowedOperations)
	}
	if got := toCardView(view); got.Certificates[0].Serial != "0a" {
		t.Errorf("certificates not converted: %+v", got.Certificates[0])
	}

	res := &cardops.IssueCardResult{Card: view, OperationID: 5, State: "issued", RandomPIN: "123456",
		PINMailedTo: []string{"alice"}, PINMailNote: "n", PINMailChoices: []string{"manager"}, SecretQuestionsNeeded: true,
		RecoverableKeys: 2, RecoveryNote: cardops.RecoverableNote(2)}
	out, _ := issueCardResult(res, nil)
	everyFieldSet(t, res, out)

	opts := &cardops.IssueOptionsResult{Card: &cardops.ConnectedCard{Serial: "C1"}, Options: issuance.Options{Registered: true}}
	gotOpts, _ := issueOptions(opts, nil)
	everyFieldSet(t, opts, gotOpts)

	rep := &cardops.ReplaceCardResult{IssueCardResult: res, Old: view, Replacement: &lanyard.CardReplacement{ID: 1}}
	gotRep, _ := replaceResult(rep, nil)
	everyFieldSet(t, rep, gotRep)
	everyFieldSet(t, rep.IssueCardResult, &gotRep.IssueCardResult)

	upd := &cardops.UpdateCardResult{Card: view, OperationID: 6, State: "pending",
		Slots: []cardops.UpdatedSlot{{Slot: "9a", Template: "t", Action: issuance.ActionRenew, Key: lanyard.RenewalNewKey, OldSerial: "0a", NewSerial: "0e", Status: "done"}}}
	gotUpd, _ := updateCardResult(upd, nil)
	everyFieldSet(t, upd, gotUpd)
	everyFieldSet(t, &upd.Slots[0], &gotUpd.Slots[0])

	soft := &cardops.SoftwareStoreResult{Card: view, Files: []cardops.SoftwareStoreFile{{Template: "t"}}}
	gotSoft, _ := softwareStoreResult(soft, nil)
	everyFieldSet(t, soft, gotSoft)

	// nil stays nil, and errors pass through.
	if v, err := cardViews(nil, errTest); v != nil || err != errTest {
		t.Errorf("cardViews(nil, err) = %v, %v", v, err)
	}
	if v := toCardView(&cardops.CardView{}); v.Certificates != nil {
		t.Errorf("nil certificates became %v", v.Certificates)
	}
}

var errTest = errors.New("test")
