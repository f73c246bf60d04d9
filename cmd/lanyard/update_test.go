package main

import (
	"path/filepath"
	"regexp"
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

// The update commands on the demo's emulated card, as its user and an
// administrator run them: a new card is up to date (the dry run's table
// keeps its logon certificate, a plain update is refused); the user adds
// the optional e-mail certificate; an administrator's renewal on the
// user's behalf waits for a CA manager (exit 3), card show names it,
// continuing it without the approval still waits, the user may not
// cancel it, and an administrator cancels it with a comment (required).
func TestCardUpdateCLI(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	stop := startServe(t, bin, data, addr, "--demo", "--agent-listen", freeAddr(t))
	defer stop()
	admin, user, _, _ := demoClients(t, bin, data, addr)
	if !strings.Contains(waitConnected(user, "Lanyard demo reader"), "Lanyard demo reader") {
		t.Fatal("the demo card is not connected")
	}
	out := user.must(0, "card", "issue", "--user-pin", "24682468")
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	serial := strings.TrimSuffix(strings.Fields(out)[3], ",")

	out = user.must(0, "card", "update", "--dry-run")
	if !strings.Contains(out, "The card is up to date.") || !regexp.MustCompile(`(?m)^9a +smartcard-logon +keep +- +- +- +\d{4}-\d\d-\d\d +-$`).MatchString(out) ||
		!strings.Contains(out, "Optional template secure-email (9d): add it with --template secure-email") {
		t.Fatalf("card update --dry-run:\n%s", out)
	}
	if _, errOut, code := user.run("", "card", "update"); code != 1 || !strings.Contains(errOut, "up to date") {
		t.Fatalf("card update of an up-to-date card: exit %d %s", code, errOut)
	}
	out = user.must(0, "card", "update", "--template", "secure-email")
	if !regexp.MustCompile(`(?m)^9d +secure-email +add +new_key +- +[0-9a-f]+ +done$`).MatchString(out) || !strings.Contains(out, "Allowed operations:") {
		t.Fatalf("card update --template secure-email:\n%s", out)
	}

	out, errOut, code := admin.run("", "card", "update", "--card", serial, "--renew", "smartcard-logon")
	if code != 3 || !strings.Contains(out, "Card update pending") || !regexp.MustCompile(`(?m)^9a +smartcard-logon +renew +new_key +[0-9a-f]+ +- +pending$`).MatchString(out) {
		t.Fatalf("card update --renew by an administrator: exit %d\n%s%s", code, out, errOut)
	}
	if out := user.must(0, "card", "show", id); !strings.Contains(out, "Update: operation ") || !strings.Contains(out, "is pending (lanyard card update-continue "+id+")") {
		t.Fatalf("card show with a pending update:\n%s", out)
	}
	if out, errOut, code := user.run("", "card", "update-continue", id); code != 3 || !strings.Contains(out, "Card update pending") {
		t.Fatalf("card update-continue without the approval: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := user.run("", "card", "update-cancel", id, "--comment", "not wanted"); code != 1 || !strings.Contains(errOut, "forbidden") {
		t.Fatalf("card update-cancel by the user: exit %d %s", code, errOut)
	}
	if _, errOut, code := admin.run("", "card", "update-cancel", id); code != 1 || !strings.Contains(errOut, "--comment is required") {
		t.Fatalf("card update-cancel without a comment: exit %d %s", code, errOut)
	}
	out = admin.must(0, "card", "update-cancel", id, "--comment", "renewed at the next expiry instead")
	if strings.Contains(out, "Update:") || linesWith(out, " written ") != 2 {
		t.Fatalf("card update-cancel:\n%s", out)
	}
}
