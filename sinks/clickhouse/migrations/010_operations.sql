-- Operations views: what the Grafana "data coverage" dashboard and operators read besides
-- the indicator views. Definitions: docs/serving-model.md ("Operations views").

-- Rejected records per hour of rejection (Asia/Muscat), reason and entity. The entity is
-- the payload's `entity` when it is a catalogue code, else the entity of the counted event
-- whose id a conflicting copy reused, else 'unknown': a label never takes a value that an
-- invalid payload made up. Payloads themselves stay in `rejected` (operators only).
CREATE VIEW IF NOT EXISTS v_rejections_hourly AS
SELECT
    toStartOfHour(r.rejected_at, 'Asia/Muscat') AS period,
    r.reason_code AS reason_code,
    multiIf(
        r.claimed IN (SELECT code FROM ref_entities), r.claimed,
        c.entity != '', c.entity,
        'unknown'
    ) AS entity,
    count() AS rejections
FROM
(
    SELECT rejected_at, reason_code, event_id, JSONExtractString(payload, 'entity') AS claimed
    FROM rejected
) AS r
LEFT JOIN
(
    SELECT event_id, any(entity) AS entity
    FROM events
    WHERE event_id IN (SELECT assumeNotNull(event_id) FROM rejected WHERE event_id IS NOT NULL)
    GROUP BY event_id
) AS c ON c.event_id = r.event_id
GROUP BY period, reason_code, entity;
