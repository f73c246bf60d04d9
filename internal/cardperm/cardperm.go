// Package cardperm decides which operations on a card a person may start.
// It is one pure function of who acts, the card owner's policy, the
// card's state and whose card it is (docs/lifecycle.md, "Who may do
// what"), so that Self-Service, the console, the CLI, the REST API and
// the agent offer and allow exactly the same operations: the card
// workflows check an operation with Check before they start it, and the
// card views list Allowed.
package cardperm

import (
	"slices"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Op is an operation on a card after issue (docs/lifecycle.md).
type Op string

const (
	ChangePIN        Op = "change_pin"        // owner: old PIN → new PIN
	ResetPIN         Op = "reset_pin"         // new PIN with the card's PUK (online unblock), card connected
	UnblockOffline   Op = "unblock_offline"   // response to a challenge read from the card
	Disable          Op = "disable"           // out of use for a while; certificates on hold per template
	Enable           Op = "enable"            // back in use
	Revoke           Op = "revoke"            // out of use for good, with a reason
	Clear            Op = "clear"             // remove Lanyard's keys and certificates, card connected
	Withdraw         Op = "withdraw"          // a revoked card back to stock, or to its owner for a new issue
	Replace          Op = "replace"           // permanent replacement: old card revoked, new one issued
	ReplaceTemporary Op = "replace_temporary" // temporary card while the original is missing
	// ResolveReplacement ends a temporary replacement: the original found
	// (the temporary card revoked, the original back to its state before
	// the replacement) or not found (the original revoked, the temporary
	// card kept for good).
	ResolveReplacement Op = "resolve_replacement"
	// Update is Update card contents (renew, add, remove certificates);
	// Continue card update needs it too. CancelUpdate ends a pending
	// update without the card (administrators).
	Update       Op = "update"
	CancelUpdate Op = "cancel_update"
	// RecoverKeys is Recover keys onto card: the owner's earlier archived
	// keys into the card's retired key management slots. The owner after
	// the step-up (account password and authenticator code); operators
	// and administrators on other people's cards only with key recovery
	// requests of theirs a second person approved, which the service
	// checks (docs/lifecycle.md, "Key archival").
	RecoverKeys Op = "recover_keys"
)

// Ops lists every operation, in the order menus show them.
var Ops = []Op{ChangePIN, ResetPIN, UnblockOffline, Update, RecoverKeys, Disable, Enable, Revoke, Clear, Withdraw, Replace, ReplaceTemporary, ResolveReplacement, CancelUpdate}

// Channel is how the actor reached Lanyard.
type Channel int

const (
	// Signed is a normal sign-in (Self-Service, the console, the CLI, the
	// API, the agent acting for its signed-in user).
	Signed Channel = iota
	// RemoteSelfService is a user who proved who they are with their
	// secret answers only (/rss/): no password, no card. Such a user
	// gets only what helps them when they cannot sign in: the offline
	// unblock response and urgent disable.
	RemoteSelfService
)

// Actor is who asks.
type Actor struct {
	UserID  int64
	Roles   lanyard.Roles
	Channel Channel
}

// Card is what the decision needs to know about the card.
type Card struct {
	State      lanyard.CardState
	OwnerID    int64         // 0: no owner (a clean card in stock)
	OwnerRoles lanyard.Roles // the owner's roles, for staff acting on staff cards
	// Temporary marks a temporary replacement card: it is not itself
	// replaced (the original's story decides its fate).
	Temporary bool
	// TemporarilyReplaced marks the original of a temporary replacement
	// not yet resolved: only the resolution (found, not found) moves it,
	// so that the temporary card's fate follows the original's.
	TemporarilyReplaced bool
	// Replaced marks a card already replaced for good (the old card of a
	// permanent replacement): it is not replaced a second time.
	Replaced bool
	// RetiredSlots marks a card with retired key management slots, the
	// only cards archived keys are recovered onto: PIV cards, TPM virtual
	// cards, platform credentials and AirCards (the service decides by the
	// card's kind); a software store has none.
	RetiredSlots bool
}

// Decision is the set of operations the actor may start on the card.
type Decision struct {
	Ops []Op
	// AnswersFirst: staff must check the owner's secret answers before a
	// PIN reset or an offline unblock (Administrator permissions →
	// Validate answers to security questions).
	AnswersFirst bool
}

// Has reports whether op is allowed.
func (d Decision) Has(op Op) bool { return slices.Contains(d.Ops, op) }

// byState lists what a card's state allows at all, whoever asks: a
// disabled card cannot be unblocked or have its PIN changed (it is out of
// use), a revoked one only leaves Lanyard, and a card on its way to issue
// (assigned, pending) can only be stopped.
var byState = map[lanyard.CardState][]Op{
	// Update card contents and its cancel only on an issued card: a
	// disabled one is enabled first, a revoked one no longer changes.
	lanyard.CardIssued: {ChangePIN, ResetPIN, UnblockOffline, Update, RecoverKeys, Disable, Revoke, Replace, ReplaceTemporary, CancelUpdate},
	// A card disabled at once (urgent disable) may get its temporary
	// replacement later.
	lanyard.CardDisabled: {Enable, Revoke, Replace, ReplaceTemporary, ResolveReplacement},
	// A card revoked (reported lost on the phone, say) is replaced when
	// its owner gets a new one: the new card is issued pre-filled and
	// linked to it, and the revocation stands.
	lanyard.CardRevoked:  {Clear, Withdraw, Replace},
	lanyard.CardAssigned: {Revoke, Clear},
	lanyard.CardPending:  {Revoke, Clear},
	// A platform credential waiting for its PIN holds issued
	// certificates: a lost laptop's must be revocable.
	lanyard.CardPINSetup: {Revoke, Clear},
	// A clean card kept for its owner (withdrawn to them) goes to
	// stock only by a withdraw (Allowed drops it for a card in stock).
	lanyard.CardClean: {Withdraw},
}

// Allowed decides what actor a may start on card c, whose owner's policy
// grants perms. The rules:
//
//   - the card's state limits everything (byState);
//   - the owner acts under the policy's user permissions (Issued card
//     operations); a staff member's own card is no exception, so no one
//     skips the secret answers on their own card with a staff role;
//   - through Remote Self-Service the owner gets only the offline unblock
//     response (with Reset PIN) and urgent disable (with Disable);
//   - operators and administrators act on other people's cards: disable,
//     enable, revoke, clear, withdraw and replace always, a PIN reset and
//     an offline unblock when the policy's administrator permissions
//     allow them; never a PIN change (that needs the old PIN);
//   - the original of a temporary replacement only waits for its
//     resolution (ResolveReplacement), with the replacement's
//     permission; a temporary card is not itself replaced, nor is a
//     card replaced once for good;
//   - Update card contents: the owner when the policy's "Update card"
//     permission allows it, staff as for a replacement; Cancel card
//     update: administrators only; both only on an issued card;
//   - Recover keys onto card: the owner (after a step-up the service
//     asks), operators and administrators on other people's cards (with
//     approved key recovery requests the service asks: dual control, so
//     also on a staff member's card); only on an issued card with retired
//     slots (RetiredSlots);
//   - the owner gets a temporary card for a disabled card only when the
//     policy also lets them enable it: Original found would enable it
//     (CheckFound asks Enable of the owner too);
//   - an operator does not reset, unblock or replace the card of someone
//     holding a staff role: that would give the operator a card that
//     signs in as them (docs/security.md, "Roles"); an administrator
//     does. Stopping such a card (disable, revoke) stays with the help
//     desk, where a lost card is reported.
func Allowed(a Actor, perms lanyard.WorkflowSettings, c Card) Decision {
	possible := byState[c.State]
	var ops []Op
	switch {
	case c.OwnerID != 0 && a.UserID == c.OwnerID:
		ops = ownerOps(a.Channel, perms.IssuedCardOps)
	case a.Channel != Signed:
		// Remote Self-Service acts only on the caller's own cards.
	case a.Roles.Has(lanyard.RoleAdministrator, lanyard.RoleOperator):
		ops = staffOps(a.Roles, perms.Administrator, c)
	}
	out := Decision{Ops: []Op{}}
	for _, op := range Ops {
		if slices.Contains(possible, op) && slices.Contains(ops, op) {
			out.Ops = append(out.Ops, op)
		}
	}
	if ownerDisabledNoEnable(a, perms, c) {
		// A temporary card for a disabled card is a way back into use:
		// Original found enables the original. An owner who may not
		// enable the card (staff disabled it, say) does not get one.
		out.Ops = slices.DeleteFunc(out.Ops, func(op Op) bool { return op == ReplaceTemporary })
	}
	if !c.RetiredSlots {
		out.Ops = slices.DeleteFunc(out.Ops, func(op Op) bool { return op == RecoverKeys })
	}
	if c.Temporary || c.Replaced {
		out.Ops = slices.DeleteFunc(out.Ops, func(op Op) bool { return op == Replace || op == ReplaceTemporary })
	}
	// The original of a temporary replacement is found or not found, and
	// nothing else: enabling it alone would leave the temporary card in
	// use beside it, revoking it alone would leave the temporary card
	// temporary. A card that is no such original has nothing to resolve.
	// So: such an original keeps ResolveReplacement only, any other card
	// everything but it.
	out.Ops = slices.DeleteFunc(out.Ops, func(op Op) bool { return (op == ResolveReplacement) != c.TemporarilyReplaced })
	if c.State == lanyard.CardClean && c.OwnerID == 0 {
		out.Ops = slices.DeleteFunc(out.Ops, func(op Op) bool { return op == Withdraw }) // already in stock
	}
	staffOnOthers := a.UserID != c.OwnerID && a.Channel == Signed
	out.AnswersFirst = staffOnOthers && perms.Administrator.ValidateAnswers && (out.Has(ResetPIN) || out.Has(UnblockOffline))
	return out
}

// ownerDisabledNoEnable reports an owner acting on their disabled card
// under a policy that does not let them enable it.
func ownerDisabledNoEnable(a Actor, perms lanyard.WorkflowSettings, c Card) bool {
	return c.OwnerID != 0 && a.UserID == c.OwnerID && c.State == lanyard.CardDisabled && !perms.IssuedCardOps.Enable
}

// CheckFound is Check for Original found: ResolveReplacement on the
// original c, and, when the resolution enables it (it was in use before
// the temporary replacement), Enable for its owner, who otherwise would
// bring back a card they may not enable. Staff may always enable.
func CheckFound(a Actor, perms lanyard.WorkflowSettings, c Card, enables bool) error {
	if err := Check(a, perms, c, ResolveReplacement); err != nil {
		return err
	}
	if enables && a.UserID == c.OwnerID && !perms.IssuedCardOps.Enable {
		return lanyard.Errorf(lanyard.EForbidden, "you are not allowed to enable this card: ask the help desk to say it was found")
	}
	return nil
}

func ownerOps(ch Channel, u lanyard.IssuedCardOperations) []Op {
	var ops []Op
	add := func(ok bool, op ...Op) {
		if ok {
			ops = append(ops, op...)
		}
	}
	if ch == RemoteSelfService {
		add(u.ResetPIN, UnblockOffline)
		add(u.Disable, Disable)
		return ops
	}
	add(u.ChangePIN, ChangePIN)
	// Resetting one's own PIN online and asking for an offline response
	// both rest on the secret answers.
	add(u.ResetPIN, ResetPIN, UnblockOffline)
	add(u.Disable, Disable)
	add(u.Enable, Enable)
	add(u.Revoke, Revoke)
	add(u.Clear, Clear)
	// Who may get a temporary card may say whether the original turned
	// up.
	add(u.TemporaryReplacement, ReplaceTemporary, ResolveReplacement)
	add(u.Update, Update)
	// One's own archived keys, behind the service's step-up.
	add(true, RecoverKeys)
	return ops
}

func staffOps(actor lanyard.Roles, adm lanyard.AdministratorPermissions, c Card) []Op {
	// Recovering keys onto someone's card needs requests a second person
	// approved, whoever the owner is.
	ops := []Op{Disable, Enable, Revoke, Clear, Withdraw, RecoverKeys}
	if actor.Has(lanyard.RoleAdministrator) {
		// Ending an update without the card may revoke certificates
		// issued for it; administrators only.
		ops = append(ops, CancelUpdate)
	}
	if c.OwnerID == 0 {
		return ops // a card in stock has no PIN of anyone's to reset
	}
	if c.OwnerRoles.Staff() && !actor.Has(lanyard.RoleAdministrator) {
		return ops
	}
	// An update puts new certificates of the owner's on the card, like a
	// replacement: not for an operator on a staff member's card.
	ops = append(ops, Replace, ReplaceTemporary, ResolveReplacement, Update)
	if adm.ResetUserPIN {
		ops = append(ops, ResetPIN)
	}
	if adm.UnblockOffline {
		ops = append(ops, UnblockOffline)
	}
	return ops
}

// Check returns nil when a may start op on c, and otherwise the error to
// show: EConflict when the card's state does not allow op (it may later),
// EForbidden when a may not do it to this card.
func Check(a Actor, perms lanyard.WorkflowSettings, c Card, op Op) error {
	if Allowed(a, perms, c).Has(op) {
		return nil
	}
	if !slices.Contains(byState[c.State], op) {
		return lanyard.Errorf(lanyard.EConflict, "%s is not possible while the card is %s", Label(op), c.State)
	}
	if c.Replaced && (op == Replace || op == ReplaceTemporary) {
		return lanyard.Errorf(lanyard.EConflict, "the card was already replaced")
	}
	return lanyard.Errorf(lanyard.EForbidden, "you are not allowed to use %s on this card", Label(op))
}

// Label is op as the card menu names it.
func Label(op Op) string {
	if l, ok := labels[op]; ok {
		return l
	}
	return string(op)
}

var labels = map[Op]string{
	ChangePIN: "Change PIN", ResetPIN: "Reset PIN", UnblockOffline: "Unblock offline",
	Disable: "Disable", Enable: "Enable", Revoke: "Revoke", Clear: "Clear", Withdraw: "Withdraw",
	Replace: "Replace", ReplaceTemporary: "Temporary replacement", ResolveReplacement: "Original found / not found",
	Update: "Update card", CancelUpdate: "Cancel card update", RecoverKeys: "Recover keys onto card",
}

// ActorOf is the Actor of a principal.
func ActorOf(p *lanyard.Principal) Actor {
	a := Actor{UserID: p.User.ID, Roles: p.Roles}
	if p.RemoteSelfService {
		a.Channel = RemoteSelfService
	}
	return a
}
