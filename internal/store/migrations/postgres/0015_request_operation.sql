-- A card's CA request names the card issue that made it (issue 14; keep
-- in step with sqlite/0015_request_operation.sql). Before, the server
-- found a request's card issue by scanning the newest unfinished issues,
-- so a request beyond that scan was taken for one made through the
-- certificate API, and approved without the signed request form the
-- issue waits for. With the link, the lookup is one row, and a request of
-- an issue that no longer waits for it is refused, not passed.
ALTER TABLE cert_requests ADD COLUMN operation_id BIGINT REFERENCES operations (id);

-- Requests made before: the issue records them as slot -> request id
-- ("requests" in its JSON data).
WITH issues AS MATERIALIZED (
    SELECT id, convert_from(data, 'UTF8') AS d FROM operations
    WHERE kind = 'issue' AND convert_from(data, 'UTF8') LIKE '{%"requests":{%'
), made AS (
    SELECT i.id AS op_id, r.value AS request_id FROM issues i, jsonb_each_text(i.d::jsonb -> 'requests') r
)
UPDATE cert_requests SET operation_id = made.op_id FROM made WHERE made.request_id = cert_requests.id::text;
