package cardops

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// ContinueCardUpdate finishes the card's interrupted or pending update
// ("Continue card update") from its last recorded step; no PIN is asked.
func (s *Cards) ContinueCardUpdate(ctx context.Context, p *lanyard.Principal, cardID int64, t CardTarget) (*UpdateCardResult, error) {
	return s.continueUpdate(ctx, p, cardID, t, false)
}

// continueUpdate is ContinueCardUpdate; auto is the automatic update on
// connect finishing an update it finds unfinished.
func (s *Cards) continueUpdate(ctx context.Context, p *lanyard.Principal, cardID int64, t CardTarget, auto bool) (*UpdateCardResult, error) {
	if _, err := s.updateToContinue(ctx, p, cardID, auto); err != nil {
		return nil, err
	}
	cc, err := s.openPIV(ctx, p, t)
	if err != nil {
		return nil, err
	}
	defer cc.sess.Close()
	// Read again inside the exclusive session: another Continue may have
	// run while this one waited for the card.
	op, err := s.updateToContinue(ctx, p, cardID, auto)
	if err != nil {
		return nil, err
	}
	j, _, err := s.loadUpdate(ctx, p, t, cc, updateLoad{card: cardID, auto: auto, continued: true})
	if err != nil {
		return nil, err
	}
	if j.card.ID != cardID {
		return nil, lanyard.Errorf(lanyard.EConflict, "the card in reader %q is %s, not the card to continue", cc.r.Name, cc.serial)
	}
	if j.card.State != lanyard.CardIssued {
		// Disabled (or revoked) while the update waited: it goes on
		// only once the card is enabled.
		return nil, lanyard.Errorf(lanyard.EConflict, "card %s is %s: a card update goes on only on an issued card; enable it first", j.card.Serial, j.card.State)
	}
	if err := personalize.CheckIdentity(j.card, cc.id); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(op.Data, &j.data); err != nil || j.data.Update == nil {
		return nil, lanyard.Errorf(lanyard.EInternal, "the operation's record does not parse")
	}
	if j.data.Certs == nil {
		j.data.Certs = map[string]string{}
	}
	if j.data.Written == nil {
		j.data.Written = map[string]bool{}
	}
	plan := j.data.Plan
	j.plan = &plan
	wasPending := op.State == lanyard.OpPending
	s.attachIssue(j, operation.Attach(s.runner, op, j.card, &j.data))
	if err := j.run.Resume(ctx, s.rec.Event(p, "card.update.continue", "card", strconv.FormatInt(cardID, 10),
		map[string]any{"operation": op.ID, "from_step": op.Step, "auto": auto})); err != nil {
		return nil, err
	}
	return s.runUpdate(ctx, j, wasPending)
}

// updateToContinue reads the card's unfinished update, checking that p
// may continue it (the permission Update card needs; the automatic
// update on connect needs none).
func (s *Cards) updateToContinue(ctx context.Context, p *lanyard.Principal, cardID int64, auto bool) (*lanyard.Operation, error) {
	var op *lanyard.Operation
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		card, err := tx.CardByID(cardID)
		if err != nil {
			return err
		}
		if card.OwnerID != p.User.ID && !isCardStaff(p) {
			return lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
		}
		if op, err = unfinishedUpdateTx(tx, cardID); err != nil {
			return err
		}
		if op == nil {
			return lanyard.Errorf(lanyard.EConflict, "card %s has no card update to continue", card.Serial)
		}
		if op.State == lanyard.OpRunning {
			return lanyard.Errorf(lanyard.EConflict, "the update of card %s is running already", card.Serial)
		}
		if auto {
			return nil
		}
		return s.checkUpdatePerm(tx, p, card, cardperm.Update)
	})
	return op, err
}
