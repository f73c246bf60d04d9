-- Issued card operations and administrator permissions (keep in step with
-- postgres/0017_card_permissions.sql). Policies saved before these
-- settings existed get the defaults a new policy has (policy.Defaults):
-- owners change, reset, disable, enable, revoke and clear their cards;
-- no temporary replacement; the help desk resets PINs and answers
-- offline unblock calls after checking the caller's secret answers.
-- A policy that already has a section keeps it.
UPDATE policies
SET settings = json_set(settings,
    '$.workflow.issued_card_operations', json('{"change_pin":true,"reset_pin":true,"disable":true,"enable":true,"revoke":true,"clear":true,"temporary_replacement":false}'))
WHERE json_valid(settings) AND json_type(settings, '$.workflow.issued_card_operations') IS NULL;

UPDATE policies
SET settings = json_set(settings,
    '$.workflow.administrator_permissions', json('{"reset_user_pin":true,"unblock_offline":true,"validate_answers":true}'))
WHERE json_valid(settings) AND json_type(settings, '$.workflow.administrator_permissions') IS NULL;
