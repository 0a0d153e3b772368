-- Data coverage and late data: views over arrival time (ingested_at, when the counting
-- writer stored the event) rather than occurrence time.

-- Per catalogue service: what arrived in the last hour and day, against its usual pattern
-- over the 28 days before that (the same hour of the day, and whole days). A service is
-- silent_day when nothing arrived for 24 h although it usually sends at least one event a
-- day, silent_hour when nothing arrived this last hour although this hour of the day
-- usually brings at least one. Ages are whole seconds before now().
CREATE VIEW IF NOT EXISTS v_coverage_services AS
SELECT
    s.entity AS entity,
    s.code AS service,
    s.name_en AS service_name_en,
    a.last_reported_at AS last_reported_at,
    a.events_last_hour AS events_last_hour,
    a.events_last_day AS events_last_day,
    a.baseline_hour_events / 28 AS usual_events_per_hour,
    a.baseline_day_events / 28 AS usual_events_per_day,
    multiIf(
        a.events_last_day = 0 AND usual_events_per_day >= 1, 'silent_day',
        a.events_last_hour = 0 AND usual_events_per_hour >= 1, 'silent_hour',
        a.events_last_hour > 0, 'reporting',
        a.events_last_day > 0, 'reported_today',
        'idle'
    ) AS status
FROM ref_services AS s
LEFT JOIN
(
    SELECT
        service,
        toNullable(max(ingested_at)) AS last_reported_at,
        countIf(age < 3600) AS events_last_hour,
        countIf(age < 86400) AS events_last_day,
        countIf(age >= 86400 AND age % 86400 < 3600) AS baseline_hour_events,
        countIf(age >= 86400) AS baseline_day_events
    FROM
    (
        SELECT service, ingested_at, toUnixTimestamp(now()) - toUnixTimestamp(ingested_at) AS age
        FROM events
        WHERE ingested_at > now() - INTERVAL 29 DAY
    )
    WHERE age >= 0 AND age < 29 * 86400
    GROUP BY service
) AS a ON a.service = s.code;

-- The same per entity (an entity is silent when all of its services together are).
CREATE VIEW IF NOT EXISTS v_coverage_entities AS
SELECT
    e.code AS entity,
    e.name_en AS entity_name_en,
    a.last_reported_at AS last_reported_at,
    a.services_last_day AS services_reporting_last_day,
    a.events_last_hour AS events_last_hour,
    a.events_last_day AS events_last_day,
    a.baseline_hour_events / 28 AS usual_events_per_hour,
    a.baseline_day_events / 28 AS usual_events_per_day,
    multiIf(
        a.events_last_day = 0 AND usual_events_per_day >= 1, 'silent_day',
        a.events_last_hour = 0 AND usual_events_per_hour >= 1, 'silent_hour',
        a.events_last_hour > 0, 'reporting',
        a.events_last_day > 0, 'reported_today',
        'idle'
    ) AS status
FROM ref_entities AS e
LEFT JOIN
(
    SELECT
        entity,
        toNullable(max(ingested_at)) AS last_reported_at,
        uniqExactIf(service, age < 86400) AS services_last_day,
        countIf(age < 3600) AS events_last_hour,
        countIf(age < 86400) AS events_last_day,
        countIf(age >= 86400 AND age % 86400 < 3600) AS baseline_hour_events,
        countIf(age >= 86400) AS baseline_day_events
    FROM
    (
        SELECT entity, service, ingested_at, toUnixTimestamp(now()) - toUnixTimestamp(ingested_at) AS age
        FROM events
        WHERE ingested_at > now() - INTERVAL 29 DAY
    )
    WHERE age >= 0 AND age < 29 * 86400
    GROUP BY entity
) AS a ON a.entity = e.code;

-- Late data. A day's figure is first shown when the day ends in Muscat plus one hour for
-- events in flight (the publication cut-off); every completed event of that day stored
-- after the cut-off restates it. One row per day, dimensions and hour of arrival: the
-- history of what changed and when.
CREATE VIEW IF NOT EXISTS v_restatements AS
SELECT
    toDate(occurred_at, 'Asia/Muscat') AS period,
    governorate,
    entity,
    service,
    channel,
    mode,
    toStartOfHour(toDateTime(ingested_at, 'Asia/Muscat')) AS restated_at,
    sum(quantity) AS transactions_added,
    count() AS events_added
FROM events
WHERE status = 'completed'
  AND ingested_at >= toDateTime(toDate(occurred_at, 'Asia/Muscat') + 1, 'Asia/Muscat') + INTERVAL 1 HOUR
GROUP BY period, governorate, entity, service, channel, mode, restated_at;

-- Per day and governorate: the figure as first shown, what late data added, and now.
CREATE VIEW IF NOT EXISTS v_restatement_summary AS
SELECT
    period,
    governorate,
    sumIf(quantity, NOT late) AS first_shown_transactions,
    sumIf(quantity, late) AS restated_transactions,
    sum(quantity) AS current_transactions,
    uniqExactIf(arrival_hour, late) AS restatements,
    maxIf(ingested_at, late) AS last_restated_at
FROM
(
    SELECT
        toDate(occurred_at, 'Asia/Muscat') AS period,
        governorate,
        quantity,
        ingested_at,
        toStartOfHour(toDateTime(ingested_at, 'Asia/Muscat')) AS arrival_hour,
        ingested_at >= toDateTime(toDate(occurred_at, 'Asia/Muscat') + 1, 'Asia/Muscat') + INTERVAL 1 HOUR AS late
    FROM events
    WHERE status = 'completed'
)
GROUP BY period, governorate
HAVING restated_transactions > 0;
