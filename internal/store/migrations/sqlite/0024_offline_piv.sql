-- Offline unblock of standard PIV cards (keep in step with
-- postgres/0024_offline_piv.sql; docs/lifecycle.md, "Offline unblock").
--
-- cards.offline_scheme: how the card is unblocked offline, as its issue
-- found out: 'lanyard-mac' (it took Lanyard's offline key), 'piv-puk' (a
-- standard PIV card, unblocked by releasing its PUK), '' when not known.
-- Cards issued before are not known: they get it at their next issue or
-- continue.
ALTER TABLE cards ADD COLUMN offline_scheme TEXT NOT NULL DEFAULT '';

-- cards.puk_released_at: when an offline unblock released the card's PUK
-- (microseconds; 0 when it was not released since its last rotation).
ALTER TABLE cards ADD COLUMN puk_released_at INTEGER NOT NULL DEFAULT 0;
