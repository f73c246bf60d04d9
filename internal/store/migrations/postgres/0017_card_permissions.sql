-- Issued card operations and administrator permissions (keep in step with
-- sqlite/0017_card_permissions.sql). Policies saved before these settings
-- existed get the defaults a new policy has (policy.Defaults): owners
-- change, reset, disable, enable, revoke and clear their cards; no
-- temporary replacement; the help desk resets PINs and answers offline
-- unblock calls after checking the caller's secret answers. A policy that
-- already has a section keeps it. The documents are JSON text (0001), so
-- they are edited as jsonb and written back as text.
UPDATE policies
SET settings = jsonb_set(settings::jsonb, '{workflow,issued_card_operations}',
    '{"change_pin":true,"reset_pin":true,"disable":true,"enable":true,"revoke":true,"clear":true,"temporary_replacement":false}'::jsonb)::text
WHERE (settings::jsonb -> 'workflow') IS NOT NULL AND (settings::jsonb -> 'workflow' -> 'issued_card_operations') IS NULL;

UPDATE policies
SET settings = jsonb_set(settings::jsonb, '{workflow,administrator_permissions}',
    '{"reset_user_pin":true,"unblock_offline":true,"validate_answers":true}'::jsonb)::text
WHERE (settings::jsonb -> 'workflow') IS NOT NULL AND (settings::jsonb -> 'workflow' -> 'administrator_permissions') IS NULL;
