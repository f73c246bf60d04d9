-- Per-card secrets and identity (issue 13, items 5 and 7; keep in step with
-- sqlite/0013_card_secrets.sql).
--
-- guid: the CHUID GUID the card presented when registered. No two cards
-- may present one GUID, and a card must still present its own before the
-- server uses its derived management key: a copied CHUID is refused.
-- sealed_puk, puk_state: the card's own random PUK, sealed by the server
-- (random), or which shared PUK it still has: the card type's default
-- (default) or one chosen at an issue and never stored (unknown). Such
-- cards get their random PUK at their next connection.
ALTER TABLE cards ADD COLUMN guid TEXT NOT NULL DEFAULT '';
ALTER TABLE cards ADD COLUMN sealed_puk BYTEA   NOT NULL DEFAULT ''::bytea;
ALTER TABLE cards ADD COLUMN puk_state TEXT NOT NULL DEFAULT '';

-- Management keys diversified from the CHUID GUID ('guid:' in hex is
-- 677569643a) stay bound to that GUID.
UPDATE cards SET guid = substr(card_ident, 11) WHERE card_ident LIKE '677569643a%';

-- A GUID or key identifier held by two cards is the spoof this migration
-- closes: the first registered card keeps it; the later ones lose their
-- binding and are refused until an operator initializes them.
UPDATE cards SET card_ident = 'duplicate:' || id, guid = ''
WHERE card_ident <> '' AND EXISTS (SELECT 1 FROM cards c2 WHERE c2.id < cards.id AND c2.card_ident = cards.card_ident);
UPDATE cards SET guid = ''
WHERE guid <> '' AND EXISTS (SELECT 1 FROM cards c2 WHERE c2.id < cards.id AND c2.guid = cards.guid);
CREATE UNIQUE INDEX cards_card_ident ON cards (card_ident) WHERE card_ident <> '';
CREATE UNIQUE INDEX cards_guid ON cards (guid) WHERE guid <> '';

-- Every card an issue touched has a shared PUK: the card type's default,
-- or (the Admin PIN chosen in the Issue card dialog reached the card and
-- the card was not cleared since) one the server never stored.
UPDATE cards SET puk_state = 'default'
WHERE state <> 'clean' OR EXISTS (SELECT 1 FROM operations o WHERE o.card_id = cards.id AND o.kind = 'issue');
UPDATE cards SET puk_state = 'unknown'
WHERE state <> 'clean' AND EXISTS (SELECT 1 FROM operations o WHERE o.card_id = cards.id AND o.kind = 'issue'
    AND convert_from(o.data, 'UTF8') LIKE '%"custom_admin_pin":true%' AND convert_from(o.data, 'UTF8') LIKE '%"puk_set":true%');
