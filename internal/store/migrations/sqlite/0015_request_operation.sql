-- A card's CA request names the card issue that made it (issue 14; keep
-- in step with postgres/0015_request_operation.sql). Before, the server
-- found a request's card issue by scanning the newest unfinished issues,
-- so a request beyond that scan was taken for one made through the
-- certificate API, and approved without the signed request form the
-- issue waits for. With the link, the lookup is one row, and a request of
-- an issue that no longer waits for it is refused, not passed.
ALTER TABLE cert_requests ADD COLUMN operation_id INTEGER REFERENCES operations (id);

-- Requests made before: the issue records them as slot -> request id
-- ("requests" in its JSON data). One pass over the issues (a subquery per
-- request would read every issue once per request).
UPDATE cert_requests SET operation_id = made.op FROM (
    SELECT CAST(r.value AS INTEGER) AS request_id, MAX(o.id) AS op
    FROM operations o,
        json_each(CASE WHEN json_valid(CAST(o.data AS TEXT)) THEN CAST(o.data AS TEXT) ELSE '{}' END, '$.requests') r
    WHERE o.kind = 'issue'
    GROUP BY request_id
) AS made
WHERE made.request_id = cert_requests.id;
