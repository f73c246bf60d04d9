package cardops

import (
	"context"
	"encoding/hex"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// OfflineUnblockInput is a challenge read from a card whose PIN is
// blocked, on a workstation that cannot reach the server
// (docs/lifecycle.md, "Offline unblock").
type OfflineUnblockInput struct {
	Challenge string
	// Answers are the owner's answers to their secret questions: given
	// by the owner in Self-Service, and by the operator on the phone when
	// the policy asks staff to check them (Validate answers to security
	// questions). Remote Self-Service checked them at sign-in.
	Answers []SecretAnswer
}

// OfflineUnblockResult is the response to read back to the user.
type OfflineUnblockResult struct {
	Response string // 16 symbols in four groups
	Serial   string
	Scheme   string
	// PUKReleased: the response carries the card's PUK (a standard PIV
	// card, scheme piv-puk); it is rotated at the card's next online
	// contact.
	PUKReleased bool
}

// Channels of an offline unblock, as recorded.
const (
	channelConsole     = "console"
	channelSelfService = "self-service"
	channelRSS         = "rss"
)

// OfflineUnblock answers the challenge of card cardID. The server never
// learns the new PIN: the card sets it when the tool sends the response
// with it. Checks, in order: the caller may unblock this card offline
// (cardperm, with the owner's policy), the challenge is well typed, the
// owner's secret answers when they are needed, the challenge is from
// this card and of a scheme its kind supports. One transaction records
// the answer with its audit event; a challenge answered before gets the
// same response again.
func (s *Cards) OfflineUnblock(ctx context.Context, p *lanyard.Principal, cardID int64, in OfflineUnblockInput) (*OfflineUnblockResult, error) {
	var card *lanyard.Card
	var owner *lanyard.User
	var ct *lanyard.CardType
	var decision cardperm.Decision
	var pol *lanyard.Policy
	var stillAllowed func(cur *lanyard.Card) error
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		var err error
		if card, err = tx.CardByID(cardID); err != nil {
			return err
		}
		if card.OwnerID != p.User.ID && !p.IsCardStaff() {
			// Nothing about someone else's card, not even that it exists.
			return lanyard.Errorf(lanyard.ENotFound, "card not found")
		}
		if card.OwnerID == 0 {
			return lanyard.Errorf(lanyard.EConflict, "card %s has no owner; nothing to unblock", card.Serial)
		}
		if owner, err = tx.UserByID(card.OwnerID); err != nil {
			return err
		}
		if pol, err = s.catalog.PolicyFor(tx, owner); err != nil {
			return err
		}
		actor := cardperm.ActorOf(p)
		facts := cardperm.Card{State: card.State, OwnerID: card.OwnerID, OwnerRoles: owner.Roles}
		if err := cardperm.Check(actor, pol.Settings.Workflow, facts, cardperm.UnblockOffline); err != nil {
			return err
		}
		decision = cardperm.Allowed(actor, pol.Settings.Workflow, facts)
		// Checked again under the card's lock before a PUK is released
		// (markPUKReleased): a card reported lost or given to someone
		// else meanwhile keeps its PUK.
		stillAllowed = func(cur *lanyard.Card) error {
			if cur.OwnerID != card.OwnerID {
				return lanyard.Errorf(lanyard.EConflict, "card %s changed owner meanwhile; nothing was released", card.Serial)
			}
			return cardperm.Check(actor, pol.Settings.Workflow, cardperm.Card{State: cur.State, OwnerID: cur.OwnerID, OwnerRoles: owner.Roles}, cardperm.UnblockOffline)
		}
		ct, err = tx.CardTypeByName(card.CardType)
		return err
	})
	if err != nil {
		return nil, err
	}

	payload, err := unblockcode.Decode(unblockcode.Challenge, in.Challenge)
	if err != nil {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the challenge is mistyped: check it and type it again")
	}
	ch := unblockcode.UnpackChallenge(payload)

	channel, needAnswers := offlineChannel(p, card, decision)
	if needAnswers {
		if len(in.Answers) == 0 {
			return nil, lanyard.Errorf(lanyard.EInvalid, "the owner's answers to their secret questions are needed")
		}
		if err := s.secretAnswers.CheckSecretAnswers(ctx, p, owner.ID, in.Answers); err != nil {
			return nil, err
		}
	}

	if ch.CardTag != unblockcode.CardTag(card.Serial) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "this challenge is from another card than %s: read it from the card again", card.Serial)
	}
	var response unblockcode.Payload
	var releasedPUK []byte // the sealed PUK the response carries (piv-puk)
	switch {
	case tpmOffline(ct.Kind) || ch.Scheme == unblockcode.SchemeLanyardTPM:
		// The code armed in the card's TPM (offlinetpm.go); the scheme
		// must be the card's.
		if response, err = s.offlineTPMResponse(ctx, ct, card, ch); err != nil {
			return nil, err
		}
	case ch.Scheme == unblockcode.SchemePIVPUK:
		if response, releasedPUK, err = s.offlinePUK(ct, card, payload); err != nil {
			return nil, err
		}
	case ch.Scheme != unblockcode.SchemeLanyardMAC:
		return nil, lanyard.Errorf(lanyard.EInvalid, "offline unblock by %s is not available for this card; connect it and use Reset PIN", ch.Scheme)
	case card.OfflineScheme != "" && card.OfflineScheme != ch.Scheme.String():
		return nil, lanyard.Errorf(lanyard.EInvalid, "this challenge is of scheme %s, but card %s is unblocked offline by %s: read the challenge from the card again", ch.Scheme, card.Serial, card.OfflineScheme)
	case card.AdminKeyVersion == 0 || card.CardID == "":
		// Without a management key of its own the card would share its
		// MAC key with every card of its type.
		return nil, lanyard.Errorf(lanyard.EConflict, "card %s has no management key of its own, so it cannot be unblocked offline; connect it and use Reset PIN", card.Serial)
	default:
		if response, err = s.offlineMAC(ctx, ct, card, payload); err != nil {
			return nil, err
		}
	}

	rec := &lanyard.OfflineUnblock{CardID: card.ID, Scheme: ch.Scheme.String(), Counter: int(ch.Counter), Nonce: int64(ch.Nonce),
		Channel: channel, ActorID: p.User.ID, AnswersChecked: needAnswers || p.RemoteSelfService}
	again := false
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "card.offline_unblock", "card", card.Serial, map[string]any{
			"card_id": card.ID, "owner": owner.Login, "scheme": rec.Scheme, "counter": rec.Counter,
			"channel": channel, "answers_checked": rec.AnswersChecked, "again": again, "puk_released": releasedPUK != nil,
		})
	}, func(tx lanyard.Tx) error {
		// A challenge answered before is answered again, with the same
		// response: the call may have dropped before the user wrote it
		// down, and the card shows the same challenge until it is used
		// or expires. Nothing new is disclosed (the response fits that
		// challenge only, and the card spends it on the first attempt);
		// the record stays the first one, the audit log has both.
		prev, err := tx.OfflineUnblocksOf(card.ID)
		if err != nil {
			return err
		}
		var first *lanyard.OfflineUnblock
		for _, u := range prev {
			if u.Scheme == rec.Scheme && u.Counter == rec.Counter && u.Nonce == rec.Nonce {
				first = u
				break
			}
		}
		rec.CreatedAt = s.rec.Clock()
		if releasedPUK != nil {
			since := rec.CreatedAt
			if first != nil {
				since = first.CreatedAt
			}
			if err := s.markPUKReleased(tx, card, releasedPUK, stillAllowed, since); err != nil {
				return err
			}
		}
		if first != nil {
			again = true
			return nil
		}
		return tx.CreateOfflineUnblock(rec)
	})
	if err != nil {
		return nil, err
	}
	if !again {
		// The owner hears of it: a response they did not ask for is
		// someone with their card and their answers.
		s.notifyCardState(ctx, p, "card.offline_unblock", owner, pol, card)
	}
	return &OfflineUnblockResult{Response: unblockcode.Encode(unblockcode.Response, response), Serial: card.Serial, Scheme: rec.Scheme,
		PUKReleased: releasedPUK != nil}, nil
}

// offlineChannel says where the request comes from and whether the
// owner's secret answers must be checked now: the owner in a signed-in
// session answers them (Reset PIN is "after answering the secret
// questions"), staff do when the policy says so, and Remote Self-Service
// checked them at sign-in.
func offlineChannel(p *lanyard.Principal, card *lanyard.Card, d cardperm.Decision) (channel string, needAnswers bool) {
	switch {
	case p.RemoteSelfService:
		return channelRSS, false
	case p.User.ID == card.OwnerID:
		return channelSelfService, true
	default:
		return channelConsole, d.AnswersFirst
	}
}

// offlineMAC computes the response of a lanyard-mac card: the MAC of the
// challenge under the key derived from the card's diversified management
// key (unblockcode.MACKey), as the card computes it.
func (s *Cards) offlineMAC(ctx context.Context, ct *lanyard.CardType, card *lanyard.Card, payload unblockcode.Payload) (unblockcode.Payload, error) {
	ident, err := hex.DecodeString(card.CardID)
	if err != nil {
		return unblockcode.Payload{}, lanyard.Wrap(lanyard.EInternal, err, "the card's key identifier is damaged")
	}
	m, err := s.adminMaster(ctx, card.AdminKeyVersion)
	if err != nil {
		return unblockcode.Payload{}, err
	}
	k, err := personalize.DiversifiedKey(m, ct.AdminKey, ident)
	if err != nil {
		return unblockcode.Payload{}, err
	}
	key, err := unblockcode.MACKey(k.Value, card.Serial)
	if err != nil {
		return unblockcode.Payload{}, lanyard.Wrap(lanyard.EInternal, err, "deriving the card's unblock key")
	}
	return unblockcode.ResponseMAC(key, card.Serial, payload), nil
}
