-- No personal data at rest, and event ids per entity (docs/security.md, "Personal data" and
-- "Event ids are per entity").

-- rejected: the writer stores only the redacted form of a payload (schemas/redaction.py),
-- the catalogue entity the event named ('' if none) and when the row expires; rows are
-- kept TAHAWUL_REJECTED_RETENTION_DAYS (the writer sets expires_at as it inserts, so a new
-- retention applies to new rows; 30 days for rows of before this migration).
ALTER TABLE rejected ADD COLUMN IF NOT EXISTS entity LowCardinality(String) DEFAULT '';
ALTER TABLE rejected ADD COLUMN IF NOT EXISTS expires_at DateTime64(3, 'UTC') DEFAULT rejected_at + INTERVAL 30 DAY;
ALTER TABLE rejected MODIFY TTL toDateTime(expires_at);

-- Rows written before redaction lose their payload and reason text (both could hold what a
-- sender put in an event); the entity is kept when it looks like a catalogue code, which
-- v_rejections_hourly checks against the catalogue anyway.
ALTER TABLE rejected UPDATE
    entity = if(match(JSONExtractString(payload, 'entity'), '^[A-Z][A-Z0-9_-]{0,31}$'),
                JSONExtractString(payload, 'entity'), ''),
    payload = '{"redacted":"tahawul-redacted-v1","removed_by":"migration 013"}',
    reason = concat(reason_code, ' (reason text removed by migration 013)')
WHERE NOT startsWith(payload, '{"redacted":');

-- duplicates: whose event a resend was (event ids are per entity).
ALTER TABLE duplicates ADD COLUMN IF NOT EXISTS entity LowCardinality(String) DEFAULT '';

-- Rejected records per hour of rejection (Asia/Muscat), reason and entity: the catalogue
-- entity the rejected event named, else 'unknown' (a label never takes a value an invalid
-- payload made up). Reads only rejected_at, reason_code and entity, the columns Grafana's
-- role may read (sinks/clickhouse/access.py); no longer joins events on event_id.
DROP VIEW IF EXISTS v_rejections_hourly;
CREATE VIEW IF NOT EXISTS v_rejections_hourly AS
SELECT
    toStartOfHour(r.rejected_at, 'Asia/Muscat') AS period,
    r.reason_code AS reason_code,
    if(r.claimed IN (SELECT code FROM ref_entities), r.claimed, 'unknown') AS entity,
    count() AS rejections
FROM
(
    SELECT rejected_at, reason_code, entity AS claimed
    FROM rejected
) AS r
GROUP BY period, reason_code, entity;
