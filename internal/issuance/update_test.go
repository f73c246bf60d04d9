package issuance

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// now is the controlled clock of the update tests.
var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// updateInput is the owner (user 7) updating their issued card, which
// holds a logon certificate (9a) that expires in 200 days, under a policy
// with logon required and email (9d) and signing (9c) optional; the card
// can move keys.
func updateInput() UpdateInput {
	in := baseInput()
	in.Card = &lanyard.Card{Serial: "C1", State: lanyard.CardIssued, OwnerID: 7}
	in.Templates["enc"] = &lanyard.Template{Name: "enc", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.RSA2048}, Slot: "9d",
		KeyUsage: []string{lanyard.KUKeyEncipherment}}
	return UpdateInput{Input: in, Now: now, CanMove: true,
		Held: []HeldCert{held("L1", "logon", "9a", 200*day, lanyard.ECP256)}}
}

func held(serial, template, slot string, left time.Duration, alg lanyard.KeyAlgorithm) HeldCert {
	return HeldCert{Serial: serial, CA: "builtin", Template: template, Slot: slot, NotAfter: now.Add(left), Algorithm: alg, KeySHA256: "key-" + serial}
}

// rowsText is a plan's rows in one line each: slot, template, action, then
// key, reasons, old serial and the flags that matter.
func rowsText(rows []UpdateSlot) string {
	var out []string
	for _, u := range rows {
		f := []string{u.Slot, u.Template, string(u.Action)}
		if u.Key != "" {
			f = append(f, string(u.Key), string(u.Algorithm))
		}
		for _, r := range u.Reasons {
			f = append(f, string(r))
		}
		if u.Old != "" {
			f = append(f, "old="+u.Old)
		}
		if u.OldKey != "" {
			f = append(f, "oldkey="+u.OldKey)
		}
		for i, on := range []bool{u.Staged, u.Retire, u.NeedCA, u.NeedForm} {
			if on {
				f = append(f, []string{"staged", "retire", "ca", "form"}[i])
			}
		}
		out = append(out, strings.Join(f, " "))
	}
	return strings.Join(out, "; ")
}

// TestPlanUpdate: every rule of the update plan (docs/lifecycle.md,
// "Update card contents"), one row per rule; want is the plan's rows
// (rowsText) or, after "!", the start of the error's message.
func TestPlanUpdate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*UpdateInput, *UpdateChoice)
		want   string
	}{
		{"up to date", nil, "!card C1 is up to date"},
		// The renewal window: 30 days (the Card Monitor's default
		// warning period) ends at now+30d inclusive.
		{"expires one second after the window", func(in *UpdateInput, _ *UpdateChoice) { in.Held[0].NotAfter = now.Add(30*day + time.Second) },
			"!card C1 is up to date"},
		{"expires at the window's end", func(in *UpdateInput, _ *UpdateChoice) { in.Held[0].NotAfter = now.Add(30 * day) },
			"9a logon renew new_key ecp256 expiring old=L1 staged"},
		{"expires in one second", func(in *UpdateInput, _ *UpdateChoice) { in.Held[0].NotAfter = now.Add(time.Second) },
			"9a logon renew new_key ecp256 expiring old=L1 staged"},
		{"expires now", func(in *UpdateInput, _ *UpdateChoice) { in.Held[0].NotAfter = now },
			"9a logon renew new_key ecp256 expired old=L1 staged"},
		{"expired", func(in *UpdateInput, _ *UpdateChoice) { in.Held[0].NotAfter = now.Add(-day) },
			"9a logon renew new_key ecp256 expired old=L1 staged"},
		{"policy renewal window 60 days", func(in *UpdateInput, _ *UpdateChoice) {
			in.Settings.Certificates.RenewalWindowDays = 60
			in.Held[0].NotAfter = now.Add(45 * day)
		}, "9a logon renew new_key ecp256 expiring old=L1 staged"},
		{"window follows the warning period", func(in *UpdateInput, _ *UpdateChoice) {
			in.Settings.Notifications.ExpiryWarningDays = 10
			in.Held[0].NotAfter = now.Add(20 * day)
		}, "!card C1 is up to date: every certificate the policy names is on it and none expires within 10 days"},
		{"algorithm no longer allowed", func(in *UpdateInput, _ *UpdateChoice) {
			in.Templates["logon"].KeyAlgs = []lanyard.KeyAlgorithm{lanyard.RSA2048}
		}, "9a logon renew new_key rsa2048 template_changed old=L1 staged"},
		{"revoked on its own", func(in *UpdateInput, _ *UpdateChoice) { in.Held[0].Revoked = true },
			"9a logon renew new_key ecp256 revoked_elsewhere old=L1 staged"},
		{"expired and revoked", func(in *UpdateInput, _ *UpdateChoice) { in.Held[0].Revoked, in.Held[0].NotAfter = true, now },
			"9a logon renew new_key ecp256 expired revoked_elsewhere old=L1 staged"},

		// Renewal key.
		{"reuse key", func(in *UpdateInput, _ *UpdateChoice) {
			in.Templates["logon"].RenewalKey = lanyard.RenewalReuseKey
			in.Held[0].NotAfter = now.Add(day)
		}, "9a logon renew reuse_key ecp256 expiring old=L1 oldkey=key-L1"},
		{"reuse key of a revoked certificate: new key", func(in *UpdateInput, _ *UpdateChoice) {
			in.Templates["logon"].RenewalKey = lanyard.RenewalReuseKey
			in.Held[0].Revoked = true
		}, "9a logon renew new_key ecp256 revoked_elsewhere old=L1 staged"},
		{"reuse key the template no longer allows: new key", func(in *UpdateInput, _ *UpdateChoice) {
			in.Templates["logon"].RenewalKey = lanyard.RenewalReuseKey
			in.Templates["logon"].KeyAlgs = []lanyard.KeyAlgorithm{lanyard.RSA2048}
		}, "9a logon renew new_key rsa2048 template_changed old=L1 staged"},
		{"reuse key of a key the server holds, template no longer archiving: new key", func(in *UpdateInput, _ *UpdateChoice) {
			in.Templates["logon"].RenewalKey = lanyard.RenewalReuseKey
			in.Held[0].NotAfter, in.Held[0].Archived = now.Add(day), true
		}, "9a logon renew new_key ecp256 expiring old=L1 staged"},
		{"reuse key without MOVE KEY and with approvals", func(in *UpdateInput, _ *UpdateChoice) {
			in.Templates["logon"].RenewalKey = lanyard.RenewalReuseKey
			in.Held[0].NotAfter = now.Add(day)
			in.CanMove = false
			in.Settings.Documents.Check = lanyard.DocsCARequest
		}, "9a logon renew reuse_key ecp256 expiring old=L1 oldkey=key-L1 ca"},

		// Policy changes.
		{"required template added", func(in *UpdateInput, _ *UpdateChoice) {
			in.Settings.Certificates.Required = []string{"logon", "signing"}
		}, "9a logon keep; 9c signing add new_key ecp256 added"},
		{"template removed from the policy", func(in *UpdateInput, _ *UpdateChoice) {
			in.Held = append(in.Held, held("E1", "email", "9d", 100*day, lanyard.RSA2048))
			in.Settings.Certificates.Optional = []string{"signing"}
		}, "9a logon keep; 9d email remove removed_from_policy old=E1"},
		{"held certificate of no known template", func(in *UpdateInput, _ *UpdateChoice) {
			in.Held = append(in.Held, held("X1", "", "9e", 100*day, lanyard.ECP256))
		}, "9a logon keep; 9e  remove removed_from_policy old=X1"},
		{"slot freed by a removal is used by an addition", func(in *UpdateInput, _ *UpdateChoice) {
			in.Held = append(in.Held, held("E1", "email", "9d", 100*day, lanyard.RSA2048))
			in.Settings.Certificates.Optional = nil
			in.Settings.Certificates.Required = []string{"logon", "enc"}
		}, "9a logon keep; 9d enc add new_key rsa2048 added; 9d email remove removed_from_policy old=E1"},
		{"template moved to another slot", func(in *UpdateInput, _ *UpdateChoice) { in.Templates["logon"].Slot = "9c" },
			"9c logon add new_key ecp256 template_changed; 9a logon remove template_changed old=L1"},
		{"two templates in one slot", func(in *UpdateInput, _ *UpdateChoice) {
			in.Settings.Certificates.Required = []string{"logon", "clash"}
		}, `!templates "logon" and "clash" both use card slot 9a`},
		{"template gone", func(in *UpdateInput, _ *UpdateChoice) { in.Settings.Certificates.Required = []string{"gone"} },
			`!template "gone" does not exist`},
		{"owner details missing for the subject", func(in *UpdateInput, _ *UpdateChoice) {
			in.Owner = &lanyard.User{Login: "ann"}
			in.Templates["logon"].Subject = lanyard.SubjectSpec{CommonName: "{login}", SANUPN: true}
		}, `!template "logon" puts the user principal name in the certificate, but user "ann" has no UPN`},
		{"template the card cannot hold", func(in *UpdateInput, _ *UpdateChoice) {
			in.Settings.Certificates.Required = []string{"logon", "ec384"}
		}, "!template \"ec384\" needs a [ecp384] key"},

		// Optional templates.
		{"held optional certificate is kept", func(in *UpdateInput, _ *UpdateChoice) {
			in.Held = append(in.Held, held("E1", "email", "9d", 100*day, lanyard.RSA2048))
			in.Held[0].NotAfter = now
		}, "9a logon renew new_key ecp256 expired old=L1 staged; 9d email keep"},
		{"held optional certificate expiring is renewed", func(in *UpdateInput, _ *UpdateChoice) {
			in.Held = append(in.Held, held("E1", "email", "9d", day, lanyard.RSA2048))
		}, "9a logon keep; 9d email renew new_key rsa2048 expiring old=E1 staged"},
		{"optional chosen", func(_ *UpdateInput, ch *UpdateChoice) { ch.Optional = []string{"signing"} },
			"9a logon keep; 9c signing add new_key ecp256 added"},
		{"optional chosen, not selectable", func(in *UpdateInput, ch *UpdateChoice) {
			in.Settings.Workflow.SelectOptionalOnUpdate = false
			ch.Optional = []string{"signing"}
		}, "!your policy does not let you select optional certificates when the card is updated"},
		{"optional chosen by staff, not selectable for users", func(in *UpdateInput, ch *UpdateChoice) {
			in.Settings.Workflow.SelectOptionalOnUpdate = false
			in.Staff, in.Requester = true, 9
			ch.Optional = []string{"signing"}
		}, "9a logon keep; 9c signing add new_key ecp256 added ca"},
		{"optional chosen on an automatic update", func(in *UpdateInput, ch *UpdateChoice) {
			in.Auto = true
			ch.Optional = []string{"signing"}
		}, "!your policy does not let you select optional certificates"},
		{"required template chosen", func(_ *UpdateInput, ch *UpdateChoice) { ch.Optional = []string{"logon"} },
			`!certificate "logon" is required`},
		{"template not offered chosen", func(_ *UpdateInput, ch *UpdateChoice) { ch.Optional = []string{"enc"} },
			`!certificate "enc" is not offered`},

		// Staff renewing what is not due.
		{"staff renew", func(in *UpdateInput, ch *UpdateChoice) { in.Staff, ch.Renew = true, []string{"logon"} },
			"9a logon renew new_key ecp256 requested old=L1 staged"},
		{"owner renew", func(_ *UpdateInput, ch *UpdateChoice) { ch.Renew = []string{"logon"} },
			"!only an operator or administrator renews"},
		{"staff renew of a template not held", func(in *UpdateInput, ch *UpdateChoice) { in.Staff, ch.Renew = true, []string{"signing"} },
			`!the card holds no certificate of template "signing"`},

		// Approvals, and cards that cannot move keys.
		{"documents check with MOVE KEY", func(in *UpdateInput, _ *UpdateChoice) {
			in.Settings.Documents.Check = lanyard.DocsRequestForm
			in.Held[0].NotAfter = now
		}, "9a logon renew new_key ecp256 expired old=L1 staged ca form"},
		{"no MOVE KEY, no approval: in place", func(in *UpdateInput, _ *UpdateChoice) {
			in.CanMove = false
			in.Held[0].NotAfter = now
		}, "9a logon renew new_key ecp256 expired old=L1"},
		{"no MOVE KEY, CA approval: refused", func(in *UpdateInput, _ *UpdateChoice) {
			in.CanMove = false
			in.Held[0].NotAfter = now
			in.Templates["logon"].RequiresCAApproval = true
		}, `!the certificate of template "logon" needs an approval before it is written`},
		{"no MOVE KEY, on someone's behalf: refused", func(in *UpdateInput, _ *UpdateChoice) {
			in.CanMove = false
			in.Held[0].NotAfter = now
			in.Staff, in.Requester = true, 9
		}, `!the certificate of template "logon" needs an approval`},
		{"no MOVE KEY, adding needs no working pair", func(in *UpdateInput, _ *UpdateChoice) {
			in.CanMove = false
			in.Settings.Documents.Check = lanyard.DocsForm
			in.Settings.Certificates.Required = []string{"logon", "signing"}
		}, "9a logon keep; 9c signing add new_key ecp256 added form"},
		{"no MOVE KEY, archive-key template imported", func(in *UpdateInput, _ *UpdateChoice) {
			in.CanMove = false
			in.Settings.Certificates.Required = []string{"logon", "enc"}
			in.Templates["enc"].KeyArchival, in.Templates["enc"].RequiresCAApproval = true, true
			in.Held = append(in.Held, held("N1", "enc", "9d", 0, lanyard.RSA2048))
		}, "9a logon keep; 9d enc renew new_key rsa2048 expired old=N1 ca"},
		{"no MOVE KEY, key-management key lost: not accepted", func(in *UpdateInput, _ *UpdateChoice) {
			in.CanMove = false
			in.Settings.Certificates.Required = []string{"logon", "enc"}
			in.Held = append(in.Held, held("N1", "enc", "9d", 0, lanyard.RSA2048))
		}, `!renewing "enc" replaces the card's decryption key in slot 9d`},
		{"no MOVE KEY, key-management key lost: accepted", func(in *UpdateInput, ch *UpdateChoice) {
			in.CanMove = false
			in.Settings.Certificates.Required = []string{"logon", "enc"}
			in.Held = append(in.Held, held("N1", "enc", "9d", 0, lanyard.RSA2048))
			ch.AcceptKeyLoss = true
		}, "9a logon keep; 9d enc renew new_key rsa2048 expired old=N1"},
		{"MOVE KEY, key-management key kept", func(in *UpdateInput, _ *UpdateChoice) {
			in.Settings.Certificates.Required = []string{"logon", "enc"}
			in.Held = append(in.Held, held("N1", "enc", "9d", 0, lanyard.RSA2048))
		}, "9a logon keep; 9d enc renew new_key rsa2048 expired old=N1 staged retire"},
		// The old key goes to the next retired slot: none left beside the
		// card's key history (19 of 20) and the staging slot.
		{"MOVE KEY, key history full: not accepted", func(in *UpdateInput, _ *UpdateChoice) {
			in.Settings.Certificates.Required = []string{"logon", "enc"}
			in.Held = append(in.Held, held("N1", "enc", "9d", 0, lanyard.RSA2048))
			in.HistoryKeys = 19
		}, `!renewing "enc" replaces the card's decryption key in slot 9d, and the card has no free retired slot to keep the old one`},
		{"MOVE KEY, key history full: accepted", func(in *UpdateInput, ch *UpdateChoice) {
			in.Settings.Certificates.Required = []string{"logon", "enc"}
			in.Held = append(in.Held, held("N1", "enc", "9d", 0, lanyard.RSA2048))
			in.HistoryKeys, ch.AcceptKeyLoss = 19, true
		}, "9a logon keep; 9d enc renew new_key rsa2048 expired old=N1 staged"},
		{"MOVE KEY, key history with room", func(in *UpdateInput, _ *UpdateChoice) {
			in.Settings.Certificates.Required = []string{"logon", "enc"}
			in.Held = append(in.Held, held("N1", "enc", "9d", 0, lanyard.RSA2048))
			in.HistoryKeys = 18
		}, "9a logon keep; 9d enc renew new_key rsa2048 expired old=N1 staged retire"},

		// Cards an update refuses.
		{"unregistered card", func(in *UpdateInput, _ *UpdateChoice) { in.Card = nil }, "!this card is not registered"},
		{"unknown card type", func(in *UpdateInput, _ *UpdateChoice) { in.CardType = nil }, "!this card is not of a card type"},
		{"disabled", func(in *UpdateInput, _ *UpdateChoice) { in.Card.State = lanyard.CardDisabled },
			"!card C1 is disabled: a disabled card cannot be issued, updated or unblocked; enable it first"},
		{"revoked", func(in *UpdateInput, _ *UpdateChoice) { in.Card.State = lanyard.CardRevoked }, "!card C1 is revoked"},
		{"issue pending", func(in *UpdateInput, _ *UpdateChoice) { in.Card.State = lanyard.CardPending }, "!card C1 has a card issue pending"},
		{"PIN not set up", func(in *UpdateInput, _ *UpdateChoice) { in.Card.State = lanyard.CardPINSetup }, "!card C1 waits for its user to set up the PIN"},
		{"not issued", func(in *UpdateInput, _ *UpdateChoice) { in.Card.State = lanyard.CardClean }, "!card C1 is not issued (clean)"},
		{"another user's card", func(in *UpdateInput, _ *UpdateChoice) { in.Card.OwnerID = 8 }, "!card C1 belongs to another user"},
		{"unfinished update", func(in *UpdateInput, _ *UpdateChoice) { in.Unfinished = "update" },
			"!card C1 has an unfinished card update; continue it (Continue card update)"},
		{"unfinished issue", func(in *UpdateInput, _ *UpdateChoice) { in.Unfinished = lanyard.OpIssue }, "!card C1 has an unfinished card issue"},
		{"unfinished key recovery", func(in *UpdateInput, _ *UpdateChoice) { in.Unfinished = lanyard.OpRecoverKeys },
			"!card C1 has an unfinished key recovery onto it; finish it (Recover keys onto card) first"},
		{"card type no longer allowed", func(in *UpdateInput, _ *UpdateChoice) { in.Settings.AllowedCards = []string{"tpm"} },
			`!cards of type "piv" are not allowed by the policy "default"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, ch := updateInput(), UpdateChoice{}
			if tt.change != nil {
				tt.change(&in, &ch)
			}
			got, err := planUpdate(in, ch)
			if want, isErr := strings.CutPrefix(tt.want, "!"); isErr {
				if err == nil || !strings.HasPrefix(lanyard.ErrorMessage(err), want) {
					t.Fatalf("plan %v, error %v; want error %q", got, err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := rowsText(got.Slots); s != tt.want {
				t.Errorf("rows\n got %s\nwant %s", s, tt.want)
			}
		})
	}
}

// planUpdate runs OfferUpdate then DecideUpdate, as the service does.
func planUpdate(in UpdateInput, ch UpdateChoice) (*UpdatePlan, error) {
	o, err := OfferUpdate(in)
	if err != nil {
		return nil, err
	}
	return DecideUpdate(in, o, ch)
}

// TestOfferUpdate: what the dialog shows besides the rows: whether an
// update is due, the optional templates and whether they may be picked,
// and the cautions.
func TestOfferUpdate(t *testing.T) {
	in := updateInput()
	in.Held = append(in.Held, held("E1", "email", "9d", 100*day, lanyard.RSA2048))
	o, err := OfferUpdate(in)
	if err != nil {
		t.Fatal(err)
	}
	if o.Due || !o.OptionalSelectable || o.TrackedSelectable || len(o.Cautions) != 0 {
		t.Errorf("options %+v", o)
	}
	if got := fmt.Sprint(o.Optional); got != "[{{email email 9d} true} {{signing signing 9c} false}]" {
		t.Errorf("optional %s", got)
	}

	in.Auto = true
	if o, _ := OfferUpdate(in); o.OptionalSelectable {
		t.Error("an automatic update lets optional templates be picked")
	}
	in.Auto, in.Held[0].NotAfter = false, now
	in.Settings.Workflow.SelectOptionalOnUpdate = false
	if o, _ := OfferUpdate(in); !o.Due || o.OptionalSelectable {
		t.Errorf("expired logon, users may not pick: due %v, selectable %v", o.Due, o.OptionalSelectable)
	}
	in.Staff = true
	if o, _ := OfferUpdate(in); !o.OptionalSelectable {
		t.Error("staff may not pick optional templates")
	}

	in = updateInput()
	in.CanMove = false
	in.Settings.Certificates.Required = []string{"logon", "enc"}
	in.Held = append(in.Held, held("N1", "enc", "9d", day, lanyard.RSA2048))
	o, err = OfferUpdate(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Cautions) != 1 || !strings.Contains(o.Cautions[0], "data encrypted to the old certificate will no longer open") {
		t.Errorf("cautions %q", o.Cautions)
	}
	p, err := DecideUpdate(in, o, UpdateChoice{AcceptKeyLoss: true})
	if err != nil || !p.AcceptedKeyLoss {
		t.Fatalf("plan %+v, %v", p, err)
	}
}

// TestUpdateTracked: with the policy searching for tracked certificates,
// an update tracks the third-party certificates found since (all of them,
// or those the user picks when allowed), never one in a slot it writes,
// and unbinds the tracked records no longer on the card.
func TestUpdateTracked(t *testing.T) {
	in := updateInput()
	in.Held[0].NotAfter = now // logon (9a) is renewed
	in.Settings.Workflow.SearchTrackedCertificates = true
	in.Settings.Certificates.Required = []string{"logon", "signing"} // 9c is added
	in.Found = []Found{
		{Slot: "9a", Serial: "L1"},  // Lanyard's own
		{Slot: "9c", Serial: "F1"},  // overwritten by signing
		{Slot: "9e", Serial: "T1"},  // tracked already
		{Slot: "82", Serial: "NEW"}, // new
	}
	in.TrackedRecs = []HeldCert{{Serial: "T1", Slot: "9e"}, {Serial: "T2", Slot: "83"}, {Serial: "T3", Slot: "9c"}}
	o, err := OfferUpdate(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(o.Tracked, o.Untracked); got != "[82  (NEW)] [T2 T3]" {
		t.Errorf("offered tracked, untracked: %s", got)
	}
	p, err := DecideUpdate(in, o, UpdateChoice{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(p.Tracked, p.Untracked) != "[82] [T2 T3]" || fmt.Sprint(p.IssuePlan().Tracked) != "[82]" {
		t.Errorf("not selectable: tracked %v, untracked %v", p.Tracked, p.Untracked)
	}
	if _, err := DecideUpdate(in, o, UpdateChoice{Tracked: []string{"82"}}); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Errorf("picking when not selectable: %v", err)
	}

	in.Settings.Workflow.AllowUserSelectTracked = true
	o, _ = OfferUpdate(in)
	p, err = DecideUpdate(in, o, UpdateChoice{})
	if err != nil || len(p.Tracked) != 0 {
		t.Errorf("selectable, none picked: %v, %v", p, err)
	}
	if p, err = DecideUpdate(in, o, UpdateChoice{Tracked: []string{"82"}}); err != nil || fmt.Sprint(p.Tracked) != "[82]" {
		t.Errorf("selectable, 82 picked: %v, %v", p, err)
	}
	if _, err := DecideUpdate(in, o, UpdateChoice{Tracked: []string{"9c"}}); !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Errorf("picking a slot the update writes: %v", err)
	}

	// Only tracked changes: the update still runs.
	in = updateInput()
	in.Settings.Workflow.SearchTrackedCertificates = true
	in.Found = []Found{{Slot: "82", Serial: "NEW"}}
	o, _ = OfferUpdate(in)
	if p, err := DecideUpdate(in, o, UpdateChoice{}); err != nil || o.Due || fmt.Sprint(p.Tracked) != "[82]" {
		t.Errorf("tracking only: due %v, plan %v, %v", o.Due, p, err)
	}
	// Not searching: the card's contents are not looked at.
	in.Settings.Workflow.SearchTrackedCertificates = false
	o, _ = OfferUpdate(in)
	if len(o.Tracked) != 0 || len(o.Untracked) != 0 {
		t.Errorf("not searching: %v %v", o.Tracked, o.Untracked)
	}
}

// TestUpdateDue: from the records alone, what an automatic update would
// change; nothing for a card that is up to date or not issued, and an
// update is due even on a card whose update Offer would refuse for lack
// of MOVE KEY (how is the card's business, not whether).
func TestUpdateDue(t *testing.T) {
	in := updateInput()
	if rows, err := UpdateDue(in); err != nil || rows != nil {
		t.Errorf("up to date: %v, %v", rows, err)
	}
	in.Settings.Workflow.SelectOptionalOnUpdate = true
	in.Held[0].NotAfter = now.Add(30 * day)
	in.CanMove = false
	in.Settings.Documents.Check = lanyard.DocsCARequest
	rows, err := UpdateDue(in)
	if err != nil || rowsText(rows) != "9a logon renew new_key ecp256 expiring old=L1 staged ca" {
		t.Errorf("expiring: %s, %v", rowsText(rows), err)
	}
	in.Card.State = lanyard.CardDisabled
	if rows, err := UpdateDue(in); err != nil || rows != nil {
		t.Errorf("disabled: %v, %v", rows, err)
	}
	in.Card.State = lanyard.CardIssued
	in.Settings.Certificates.Required = []string{"gone"}
	if _, err := UpdateDue(in); !lanyard.IsCode(err, lanyard.EUnavailable) {
		t.Errorf("template gone: %v", err)
	}
}

// TestUpdateIssuePlan: the issue plan of an update is its renew and add
// rows only; it never initializes the card nor sets a PIN.
func TestUpdateIssuePlan(t *testing.T) {
	in := updateInput()
	in.Held[0].NotAfter = now
	in.Held = append(in.Held, held("E1", "email", "9d", 100*day, lanyard.RSA2048), held("X1", "", "9e", day, lanyard.ECP256))
	p, err := planUpdate(in, UpdateChoice{Optional: []string{"signing"}})
	if err != nil {
		t.Fatal(err)
	}
	ip := p.IssuePlan()
	if ip.Initialize || ip.UserPIN != "" || ip.RandomPIN || len(ip.Slots) != 2 || ip.Slots[0].Slot != "9a" || ip.Slots[1].Slot != "9c" {
		t.Errorf("issue plan %+v", ip)
	}
	if got := rowsText(p.Changes()); got != "9a logon renew new_key ecp256 expired old=L1 staged; 9c signing add new_key ecp256 added; 9e  remove removed_from_policy old=X1" {
		t.Errorf("changes %s", got)
	}
}

// FuzzPlanUpdate: for any mix of held certificates, policy templates and
// card abilities, a plan accounts for every held certificate exactly once
// (kept, renewed or removed), gives every wanted template one row, never
// writes two certificates into one slot, and keeps only certificates
// that are valid past the renewal window and still fit their template.
func FuzzPlanUpdate(f *testing.F) {
	for seed := range uint64(64) {
		f.Add(seed)
	}
	names := []string{"logon", "email", "signing", "enc", "ec384"}
	f.Fuzz(func(t *testing.T, seed uint64) {
		r := rand.New(rand.NewPCG(seed, 17))
		in := updateInput()
		in.CanMove = r.IntN(2) == 0
		in.Settings.Certificates.RenewalWindowDays = r.IntN(90)
		in.Settings.Certificates.Required = []string{"logon"}
		in.Settings.Certificates.Optional = nil
		for _, n := range names[1:4] {
			switch r.IntN(3) {
			case 0:
				in.Settings.Certificates.Optional = append(in.Settings.Certificates.Optional, n)
			case 1:
				in.Settings.Certificates.Required = append(in.Settings.Certificates.Required, n)
			}
		}
		if r.IntN(4) == 0 {
			in.Templates["logon"].Slot = "9e"
		}
		in.Templates["logon"].RenewalKey = []lanyard.RenewalKey{"", lanyard.RenewalNewKey, lanyard.RenewalReuseKey}[r.IntN(3)]
		in.Held = nil
		taken := map[string]bool{}
		for _, n := range names {
			slot := []string{"9a", "9c", "9d", "9e"}[r.IntN(4)]
			if r.IntN(2) == 0 || taken[slot] {
				continue
			}
			taken[slot] = true
			h := held("S-"+n, n, slot, time.Duration(r.IntN(200)-50)*day, []lanyard.KeyAlgorithm{lanyard.ECP256, lanyard.RSA2048}[r.IntN(2)])
			h.Revoked = r.IntN(8) == 0
			in.Held = append(in.Held, h)
		}
		var ch UpdateChoice
		for _, n := range in.Settings.Certificates.Optional {
			if r.IntN(2) == 0 {
				ch.Optional = append(ch.Optional, n)
			}
		}
		ch.AcceptKeyLoss = true
		p, err := planUpdate(in, ch)
		if err != nil {
			if !lanyard.IsCode(err, lanyard.EConflict) && !lanyard.IsCode(err, lanyard.EInvalid) {
				t.Fatalf("error %v", err)
			}
			return
		}
		seen := map[string]int{}
		written := map[string]bool{}
		for _, u := range p.Slots {
			switch u.Action {
			case ActionKeep:
				seen[heldSerial(in.Held, u.Template, u.Slot)]++
				if !u.NotAfter.After(now.Add(in.Settings.RenewalWindow())) || !in.Templates[u.Template].AllowsKey(u.Algorithm) {
					t.Errorf("kept %+v", u)
				}
			case ActionRenew, ActionRemove:
				seen[u.Old]++
			}
			if u.Action == ActionRenew || u.Action == ActionAdd {
				if written[u.Slot] {
					t.Errorf("slot %s written twice: %s", u.Slot, rowsText(p.Slots))
				}
				written[u.Slot] = true
				if u.Key == lanyard.RenewalReuseKey && (u.Action == ActionAdd || u.OldKey == "" || u.Staged || slices.Contains(u.Reasons, ReasonRevokedElsewhere)) {
					t.Errorf("reused key %+v", u)
				}
			}
		}
		for _, h := range in.Held {
			if seen[h.Serial] != 1 {
				t.Errorf("held %s accounted for %d times: %s", h.Serial, seen[h.Serial], rowsText(p.Slots))
			}
		}
	})
}

func heldSerial(held []HeldCert, template, slot string) string {
	for _, h := range held {
		if h.Template == template && h.Slot == slot {
			return h.Serial
		}
	}
	return ""
}
