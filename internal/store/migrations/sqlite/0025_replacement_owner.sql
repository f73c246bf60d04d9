-- Replace card, review fixes (keep in step with
-- postgres/0025_replacement_owner.sql; docs/lifecycle.md, "Replace").
-- owner_id: the owner both cards had when the replacement was made; a
-- card that changed hands since does not carry the link (its new owner
-- neither sees it nor is bound by it). old_state: the old card's state
-- before the replacement, to which Original found returns it (a card
-- staff disabled stays disabled).
ALTER TABLE card_replacements ADD COLUMN owner_id INTEGER REFERENCES users (id);
ALTER TABLE card_replacements ADD COLUMN old_state TEXT NOT NULL DEFAULT '';
-- Links recorded before: the owner is known where both cards still share
-- one. A link whose cards no longer do, or one of whose cards went back
-- to clean (cleared, withdrawn), binds nothing any more: it ends.
UPDATE card_replacements SET owner_id = (
    SELECT o.owner_id FROM cards o, cards n
    WHERE o.id = card_replacements.old_card_id AND n.id = card_replacements.new_card_id AND o.owner_id = n.owner_id);
UPDATE card_replacements SET state = 'ended'
    WHERE state <> 'ended' AND (owner_id IS NULL
        OR old_card_id IN (SELECT id FROM cards WHERE state = 'clean')
        OR new_card_id IN (SELECT id FROM cards WHERE state = 'clean'));
