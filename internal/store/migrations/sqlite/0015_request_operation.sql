-- A card's CA request names the card issue that made it (issue 14; keep
-- in step with postgres/0015_request_operation.sql). Before, the server
-- found a request's card issue by scanning the newest unfinished issues,
-- so a request beyond that scan was taken for one made through the
-- certificate API, and approved without the signed request form the
-- issue waits for. With the link, the lookup is one row, and a request of
-- an issue that no longer waits for it is refused, not passed.
ALTER TABLE cert_requests ADD COLUMN operation_id INTEGER REFERENCES operations (id);

-- Requests made before: the issue records them as slot -> request id
-- ("requests" in its JSON data).
UPDATE cert_requests SET operation_id = (
    SELECT o.id FROM operations o,
        json_each(CASE WHEN json_valid(CAST(o.data AS TEXT)) THEN CAST(o.data AS TEXT) ELSE '{}' END, '$.requests') r
    WHERE o.kind = 'issue' AND CAST(r.value AS INTEGER) = cert_requests.id
    ORDER BY o.id DESC LIMIT 1);
