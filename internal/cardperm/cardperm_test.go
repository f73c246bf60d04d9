package cardperm

import (
	"slices"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

var (
	user     = lanyard.Roles{lanyard.RoleUser}
	operator = lanyard.Roles{lanyard.RoleUser, lanyard.RoleOperator}
	admin    = lanyard.Roles{lanyard.RoleUser, lanyard.RoleAdministrator}
	auditor  = lanyard.Roles{lanyard.RoleUser, lanyard.RoleAuditor}
)

// all grants every user and administrator permission.
func all() lanyard.WorkflowSettings {
	return lanyard.WorkflowSettings{
		IssuedCardOps: lanyard.IssuedCardOperations{ChangePIN: true, ResetPIN: true, Disable: true, Enable: true, Revoke: true, Clear: true, TemporaryReplacement: true},
		Administrator: lanyard.AdministratorPermissions{ResetUserPIN: true, UnblockOffline: true, ValidateAnswers: true},
	}
}

func none() lanyard.WorkflowSettings { return lanyard.WorkflowSettings{} }

func with(f func(*lanyard.WorkflowSettings)) lanyard.WorkflowSettings {
	w := all()
	f(&w)
	return w
}

func ops(o ...Op) []Op {
	if o == nil {
		return []Op{}
	}
	return o
}

func TestAllowed(t *testing.T) {
	const owner, other = 1, 2
	own := func(roles lanyard.Roles) Actor { return Actor{UserID: owner, Roles: roles} }
	staff := func(roles lanyard.Roles) Actor { return Actor{UserID: other, Roles: roles} }
	rss := Actor{UserID: owner, Roles: user, Channel: RemoteSelfService}
	card := func(state lanyard.CardState) Card { return Card{State: state, OwnerID: owner, OwnerRoles: user} }
	staffCard := func(state lanyard.CardState, roles lanyard.Roles) Card {
		return Card{State: state, OwnerID: owner, OwnerRoles: roles}
	}
	piv := func(state lanyard.CardState, roles lanyard.Roles) Card {
		return Card{State: state, OwnerID: owner, OwnerRoles: roles, RetiredSlots: true}
	}

	tests := []struct {
		name    string
		actor   Actor
		perms   lanyard.WorkflowSettings
		card    Card
		want    []Op
		answers bool
	}{
		// The owner, under the policy's user permissions.
		{"owner, issued, everything allowed", own(user), all(), card(lanyard.CardIssued),
			ops(ChangePIN, ResetPIN, UnblockOffline, Disable, Revoke, ReplaceTemporary), false},
		{"owner, issued, nothing allowed", own(user), none(), card(lanyard.CardIssued), ops(), false},
		{"owner, issued, only change PIN", own(user), lanyard.WorkflowSettings{IssuedCardOps: lanyard.IssuedCardOperations{ChangePIN: true}},
			card(lanyard.CardIssued), ops(ChangePIN), false},
		{"owner, disabled: enable, revoke, temporary card; no PIN operations", own(user), all(), card(lanyard.CardDisabled), ops(Enable, Revoke, ReplaceTemporary), false},
		// Original found would enable the card: an owner who may not
		// enable it gets no temporary card for it (staff still do).
		{"owner, disabled, enable not allowed: no temporary card", own(user), with(func(w *lanyard.WorkflowSettings) { w.IssuedCardOps.Enable = false }),
			card(lanyard.CardDisabled), ops(Revoke), false},
		{"owner, issued, enable not allowed: temporary card", own(user), with(func(w *lanyard.WorkflowSettings) { w.IssuedCardOps.Enable = false }),
			card(lanyard.CardIssued), ops(ChangePIN, ResetPIN, UnblockOffline, Disable, Revoke, ReplaceTemporary), false},
		{"operator, disabled, owner may not enable: temporary card", staff(operator), with(func(w *lanyard.WorkflowSettings) { w.IssuedCardOps.Enable = false }),
			card(lanyard.CardDisabled), ops(Enable, Revoke, Replace, ReplaceTemporary), false},
		{"owner, revoked: clear only (withdraw is staff's)", own(user), all(), card(lanyard.CardRevoked), ops(Clear), false},
		{"owner, pending: stop it", own(user), all(), card(lanyard.CardPending), ops(Revoke, Clear), false},
		{"owner, clean card", own(user), all(), Card{State: lanyard.CardClean}, ops(), false},
		{"owner, platform credential waiting for its PIN", own(user), all(), card(lanyard.CardPINSetup), ops(Revoke, Clear), false},
		{"operator, platform credential waiting for its PIN", staff(operator), all(), card(lanyard.CardPINSetup), ops(Revoke, Clear), false},
		{"owner, temporary card is not replaced again", own(user), all(), Card{State: lanyard.CardIssued, OwnerID: owner, OwnerRoles: user, Temporary: true},
			ops(ChangePIN, ResetPIN, UnblockOffline, Disable, Revoke), false},
		{"owner, original of a temporary replacement: only its resolution", own(user), all(),
			Card{State: lanyard.CardDisabled, OwnerID: owner, OwnerRoles: user, TemporarilyReplaced: true}, ops(ResolveReplacement), false},
		{"owner, original of a temporary replacement, temporary replacement not allowed", own(user),
			with(func(w *lanyard.WorkflowSettings) { w.IssuedCardOps.TemporaryReplacement = false }),
			Card{State: lanyard.CardDisabled, OwnerID: owner, OwnerRoles: user, TemporarilyReplaced: true}, ops(), false},
		{"owner, temporary card lost: revoke it", own(user), all(), Card{State: lanyard.CardIssued, OwnerID: owner, OwnerRoles: user, Temporary: true},
			ops(ChangePIN, ResetPIN, UnblockOffline, Disable, Revoke), false},
		// A staff member's own card follows the user permissions.
		{"operator's own card: user permissions only", own(operator), none(), staffCard(lanyard.CardIssued, operator), ops(), false},
		{"administrator's own card: no answers skipped", own(admin), all(), staffCard(lanyard.CardIssued, admin),
			ops(ChangePIN, ResetPIN, UnblockOffline, Disable, Revoke, ReplaceTemporary), false},

		// Remote Self-Service: offline response and urgent disable.
		{"rss, issued", rss, all(), card(lanyard.CardIssued), ops(UnblockOffline, Disable), false},
		{"rss, reset not allowed", rss, with(func(w *lanyard.WorkflowSettings) { w.IssuedCardOps.ResetPIN = false }), card(lanyard.CardIssued), ops(Disable), false},
		{"rss, disabled card: nothing", rss, all(), card(lanyard.CardDisabled), ops(), false},
		{"rss, someone else's card", Actor{UserID: other, Roles: admin, Channel: RemoteSelfService}, all(), card(lanyard.CardIssued), ops(), false},

		// Staff on other people's cards.
		{"operator, issued", staff(operator), all(), card(lanyard.CardIssued),
			ops(ResetPIN, UnblockOffline, Update, Disable, Revoke, Replace, ReplaceTemporary), true},
		{"operator, issued, no administrator permissions", staff(operator), with(func(w *lanyard.WorkflowSettings) {
			w.Administrator = lanyard.AdministratorPermissions{}
		}), card(lanyard.CardIssued), ops(Update, Disable, Revoke, Replace, ReplaceTemporary), false},
		{"operator, issued, answers not required", staff(operator), with(func(w *lanyard.WorkflowSettings) { w.Administrator.ValidateAnswers = false }),
			card(lanyard.CardIssued), ops(ResetPIN, UnblockOffline, Update, Disable, Revoke, Replace, ReplaceTemporary), false},
		{"operator, user permissions do not limit staff", staff(operator), with(func(w *lanyard.WorkflowSettings) { w.IssuedCardOps = lanyard.IssuedCardOperations{} }),
			card(lanyard.CardIssued), ops(ResetPIN, UnblockOffline, Update, Disable, Revoke, Replace, ReplaceTemporary), true},
		{"operator, disabled", staff(operator), all(), card(lanyard.CardDisabled), ops(Enable, Revoke, Replace, ReplaceTemporary), false},
		{"operator, original of a temporary replacement: only its resolution", staff(operator), none(),
			Card{State: lanyard.CardDisabled, OwnerID: owner, OwnerRoles: user, TemporarilyReplaced: true}, ops(ResolveReplacement), false},
		{"operator, original of a temporary replacement of an administrator", staff(operator), all(),
			Card{State: lanyard.CardDisabled, OwnerID: owner, OwnerRoles: admin, TemporarilyReplaced: true}, ops(), false},
		{"administrator, original of a temporary replacement of an administrator", staff(admin), all(),
			Card{State: lanyard.CardDisabled, OwnerID: owner, OwnerRoles: admin, TemporarilyReplaced: true}, ops(ResolveReplacement), false},
		{"auditor, original of a temporary replacement", staff(auditor), all(),
			Card{State: lanyard.CardDisabled, OwnerID: owner, OwnerRoles: user, TemporarilyReplaced: true}, ops(), false},
		{"operator, revoked: replaced for good", staff(operator), all(), card(lanyard.CardRevoked), ops(Clear, Withdraw, Replace), false},
		{"operator, revoked and already replaced", staff(operator), all(),
			Card{State: lanyard.CardRevoked, OwnerID: owner, OwnerRoles: user, Replaced: true}, ops(Clear, Withdraw), false},
		{"operator, issued card already replaced (its replacement pending)", staff(operator), all(),
			Card{State: lanyard.CardIssued, OwnerID: owner, OwnerRoles: user, Replaced: true}, ops(ResetPIN, UnblockOffline, Update, Disable, Revoke), true},
		{"operator, clean card in stock", staff(operator), all(), Card{State: lanyard.CardClean}, ops(), false},
		{"operator, clean card kept for its owner: to stock", staff(operator), all(), card(lanyard.CardClean), ops(Withdraw), false},
		{"owner, clean card kept for her", own(user), all(), card(lanyard.CardClean), ops(), false},
		{"operator, revoked card in stock", staff(operator), all(), Card{State: lanyard.CardRevoked}, ops(Clear, Withdraw), false},
		{"operator on an administrator's card: stop it, nothing more", staff(operator), all(), staffCard(lanyard.CardIssued, admin), ops(Disable, Revoke), false},
		{"operator on an operator's card", staff(operator), all(), staffCard(lanyard.CardIssued, operator), ops(Disable, Revoke), false},
		{"administrator on an administrator's card", staff(admin), all(), staffCard(lanyard.CardIssued, admin),
			ops(ResetPIN, UnblockOffline, Update, Disable, Revoke, Replace, ReplaceTemporary, CancelUpdate), true},

		// Update card contents: the owner with the policy's "Update
		// card" permission, staff as for a replacement; Cancel card
		// update is the administrators'; only on an issued card.
		{"owner, issued, update allowed", own(user), with(func(w *lanyard.WorkflowSettings) { w.IssuedCardOps = lanyard.IssuedCardOperations{Update: true} }),
			card(lanyard.CardIssued), ops(Update), false},
		{"owner, disabled, update allowed: enable first", own(user), with(func(w *lanyard.WorkflowSettings) { w.IssuedCardOps.Update = true }),
			card(lanyard.CardDisabled), ops(Enable, Revoke, ReplaceTemporary), false},
		{"owner, revoked, update allowed: never", own(user), with(func(w *lanyard.WorkflowSettings) { w.IssuedCardOps.Update = true }),
			card(lanyard.CardRevoked), ops(Clear), false},
		{"owner, pending issue, update allowed: continue the issue", own(user), with(func(w *lanyard.WorkflowSettings) { w.IssuedCardOps.Update = true }),
			card(lanyard.CardPending), ops(Revoke, Clear), false},
		{"administrator's own card: no cancel of their own update", own(admin), with(func(w *lanyard.WorkflowSettings) { w.IssuedCardOps = lanyard.IssuedCardOperations{Update: true} }),
			staffCard(lanyard.CardIssued, admin), ops(Update), false},
		{"administrator, issued: update and cancel", staff(admin), none(), card(lanyard.CardIssued),
			ops(Update, Disable, Revoke, Replace, ReplaceTemporary, CancelUpdate), false},
		{"administrator, disabled: no update, no cancel", staff(admin), none(), card(lanyard.CardDisabled),
			ops(Enable, Revoke, Replace, ReplaceTemporary), false},
		{"administrator, revoked: no update, no cancel", staff(admin), none(), card(lanyard.CardRevoked),
			ops(Clear, Withdraw, Replace), false},

		// Recover keys onto card: an issued card with retired slots (a
		// PIV card, TPM card or AirCard); the owner (the service asks the step-up), staff on
		// other people's cards, staff members' too (the service asks
		// approved requests); never through Remote Self-Service.
		{"owner, issued PIV card: recover keys", own(user), none(), piv(lanyard.CardIssued, user), ops(RecoverKeys), false},
		{"owner, issued card without retired slots: no recovery", own(user), none(), card(lanyard.CardIssued), ops(), false},
		{"owner, disabled PIV card: no recovery", own(user), none(), piv(lanyard.CardDisabled, user), ops(), false},
		{"owner through remote self-service: no recovery", rss, all(), piv(lanyard.CardIssued, user), ops(UnblockOffline, Disable), false},
		{"operator, issued PIV card: recover keys", staff(operator), none(), piv(lanyard.CardIssued, user),
			ops(Update, RecoverKeys, Disable, Revoke, Replace, ReplaceTemporary), false},
		{"operator, an administrator's PIV card: recovery under dual control", staff(operator), none(), piv(lanyard.CardIssued, admin),
			ops(RecoverKeys, Disable, Revoke), false},
		{"administrator, issued PIV card: recover keys", staff(admin), none(), piv(lanyard.CardIssued, user),
			ops(Update, RecoverKeys, Disable, Revoke, Replace, ReplaceTemporary, CancelUpdate), false},
		{"operator, revoked PIV card: no recovery", staff(operator), none(), piv(lanyard.CardRevoked, user), ops(Clear, Withdraw, Replace), false},
		{"another user, PIV card", staff(user), all(), piv(lanyard.CardIssued, user), ops(), false},

		// Nobody else.
		{"another user", staff(user), all(), card(lanyard.CardIssued), ops(), false},
		{"auditor", staff(auditor), all(), card(lanyard.CardIssued), ops(), false},
		{"document officer", staff(lanyard.Roles{lanyard.RoleDocumentOfficer}), all(), card(lanyard.CardIssued), ops(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Allowed(tt.actor, tt.perms, tt.card)
			if !slices.Equal(got.Ops, tt.want) {
				t.Errorf("ops = %v, want %v", got.Ops, tt.want)
			}
			if got.AnswersFirst != tt.answers {
				t.Errorf("answers first = %v, want %v", got.AnswersFirst, tt.answers)
			}
			for _, op := range Ops {
				err := Check(tt.actor, tt.perms, tt.card, op)
				if (err == nil) != got.Has(op) {
					t.Errorf("Check(%s) = %v, Allowed has it: %v", op, err, got.Has(op))
				}
			}
		})
	}
}

// Every state a card can be in has its row, and no row lists an
// operation the menus do not know.
func TestEveryStateDecided(t *testing.T) {
	for _, st := range []lanyard.CardState{lanyard.CardClean, lanyard.CardAssigned, lanyard.CardPending, lanyard.CardPINSetup, lanyard.CardIssued, lanyard.CardDisabled, lanyard.CardRevoked} {
		row, ok := byState[st]
		if !ok {
			t.Errorf("no row for state %s", st)
		}
		for _, op := range row {
			if !slices.Contains(Ops, op) || Label(op) == string(op) {
				t.Errorf("state %s lists unknown operation %q", st, op)
			}
		}
	}
	if len(labels) != len(Ops) {
		t.Errorf("%d labels for %d operations", len(labels), len(Ops))
	}
}

func TestCheckErrors(t *testing.T) {
	owner := Actor{UserID: 1, Roles: user}
	c := Card{State: lanyard.CardDisabled, OwnerID: 1, OwnerRoles: user}
	if err := Check(owner, all(), c, ResetPIN); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("reset on a disabled card: %v, want a conflict", err)
	}
	c.State = lanyard.CardIssued
	if err := Check(owner, none(), c, ResetPIN); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Errorf("reset not allowed by policy: %v, want forbidden", err)
	}
	if err := Check(Actor{UserID: 2, Roles: operator}, all(), c, ChangePIN); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Errorf("operator changing a user's PIN: %v, want forbidden", err)
	}
}

// Original found enables the original when it was in use before: its
// owner needs Enable for that, staff do not; a card that stays disabled
// needs only ResolveReplacement.
func TestCheckFound(t *testing.T) {
	owner, op := Actor{UserID: 1, Roles: user}, Actor{UserID: 2, Roles: operator}
	c := Card{State: lanyard.CardDisabled, OwnerID: 1, OwnerRoles: user, TemporarilyReplaced: true}
	noEnable := with(func(w *lanyard.WorkflowSettings) { w.IssuedCardOps.Enable = false })
	for _, tc := range []struct {
		name    string
		a       Actor
		perms   lanyard.WorkflowSettings
		enables bool
		want    string
	}{
		{"owner, enable allowed, enables", owner, all(), true, ""},
		{"owner, enable not allowed, enables", owner, noEnable, true, lanyard.EForbidden},
		{"owner, enable not allowed, stays disabled", owner, noEnable, false, ""},
		{"operator, enable not allowed for the owner, enables", op, noEnable, true, ""},
		{"owner, no temporary replacement", owner, none(), false, lanyard.EForbidden},
	} {
		err := CheckFound(tc.a, tc.perms, c, tc.enables)
		if (tc.want == "" && err != nil) || (tc.want != "" && !lanyard.IsCode(err, tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestActorOf(t *testing.T) {
	p := &lanyard.Principal{User: &lanyard.User{ID: 7}, Roles: operator}
	if a := ActorOf(p); a.UserID != 7 || a.Channel != Signed || !a.Roles.Has(lanyard.RoleOperator) {
		t.Errorf("signed-in operator: %+v", a)
	}
	p.RemoteSelfService = true
	if a := ActorOf(p); a.Channel != RemoteSelfService {
		t.Errorf("remote self-service: %+v", a)
	}
}
