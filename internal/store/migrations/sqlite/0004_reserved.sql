-- Reserved: migration 0004 belongs to the notifications work (issue #5,
-- the e-mail outbox), developed in parallel on another branch. This
-- placeholder keeps the version numbers contiguous on the documents
-- branch; when both branches meet, delete this file and keep the outbox's
-- 0004 (migrations.For then finds 0001..0005 again).
SELECT 1;
