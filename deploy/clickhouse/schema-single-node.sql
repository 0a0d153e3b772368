-- tahawul schema for a single node. Generated from sinks/clickhouse/migrations by
-- `tahawul ddl`; do not edit. `tahawul db migrate` applies the same statements
-- and records them in schema_migrations.

CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY version;

-- 001_core
CREATE TABLE IF NOT EXISTS events
(
    event_id      UUID,
    occurred_at   DateTime64(3, 'UTC'),
    entity        LowCardinality(String),
    service       LowCardinality(String),
    governorate   LowCardinality(String),
    channel       LowCardinality(String),
    mode          LowCardinality(String),
    status        LowCardinality(String),
    quantity      UInt32,
    automated     Bool,
    satisfaction  Nullable(UInt8),
    fingerprint   UInt64,
    src_cluster   LowCardinality(String),
    src_topic     LowCardinality(String),
    src_partition UInt32,
    src_offset    UInt64,
    ingested_at   DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(occurred_at, 'Asia/Muscat')
ORDER BY (governorate, entity, service, occurred_at);

CREATE TABLE IF NOT EXISTS rejected
(
    rejected_at   DateTime64(3, 'UTC'),
    reason_code   LowCardinality(String),
    reason        String,
    payload       String,
    payload_bytes UInt32,
    source        String,
    event_id      Nullable(UUID),
    src_cluster   LowCardinality(String),
    src_topic     LowCardinality(String),
    src_partition UInt32,
    src_offset    UInt64
)
ENGINE = MergeTree
ORDER BY (reason_code, rejected_at);

CREATE TABLE IF NOT EXISTS duplicates
(
    event_id      UUID,
    seen_at       DateTime64(3, 'UTC'),
    src_cluster   LowCardinality(String),
    src_topic     LowCardinality(String),
    src_partition UInt32,
    src_offset    UInt64
)
ENGINE = MergeTree
ORDER BY (event_id, seen_at);

CREATE TABLE IF NOT EXISTS counts_minute
(
    minute        DateTime('UTC'),
    governorate   LowCardinality(String),
    entity        LowCardinality(String),
    service       LowCardinality(String),
    channel       LowCardinality(String),
    mode          LowCardinality(String),
    status        LowCardinality(String),
    transactions  UInt64,
    events        UInt64,
    src_cluster   LowCardinality(String),
    src_topic     LowCardinality(String),
    src_partition UInt32,
    src_offset    UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(minute, 'Asia/Muscat')
ORDER BY (governorate, entity, service, channel, status, minute);

CREATE TABLE IF NOT EXISTS ingest_progress
(
    src_cluster   LowCardinality(String),
    src_topic     LowCardinality(String),
    src_partition UInt32,
    last_offset   UInt64,
    committed_at  DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (src_cluster, src_topic, src_partition, last_offset);

CREATE VIEW IF NOT EXISTS v_counts_daily AS
SELECT
    toDate(minute, 'Asia/Muscat') AS day,
    governorate,
    entity,
    service,
    channel,
    mode,
    sum(transactions) AS transactions
FROM counts_minute
WHERE status = 'completed'
GROUP BY day, governorate, entity, service, channel, mode;

-- 002_reference
CREATE TABLE IF NOT EXISTS ref_governorates
(
    code       LowCardinality(String),
    name_en    String,
    name_ar    String,
    centre_en  String,
    centre_lat Float64,
    centre_lon Float64
)
ENGINE = MergeTree
ORDER BY code;

CREATE TABLE IF NOT EXISTS ref_channels
(
    code    LowCardinality(String),
    mode    LowCardinality(String),
    name_en String,
    name_ar String
)
ENGINE = MergeTree
ORDER BY code;

CREATE TABLE IF NOT EXISTS ref_entities
(
    code        LowCardinality(String),
    name_en     String,
    name_ar     String,
    governorate Nullable(String)
)
ENGINE = MergeTree
ORDER BY code;

CREATE TABLE IF NOT EXISTS ref_services
(
    code    LowCardinality(String),
    entity  LowCardinality(String),
    name_en String,
    name_ar String
)
ENGINE = MergeTree
ORDER BY (entity, code);

CREATE TABLE IF NOT EXISTS ref_loads
(
    checksum  String,
    loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY loaded_at;

CREATE VIEW IF NOT EXISTS v_entity_governorates AS
SELECT e.code AS entity, g.code AS governorate
FROM ref_entities AS e
CROSS JOIN ref_governorates AS g
WHERE e.governorate IS NULL OR e.governorate = g.code;

-- 003_unit_costs
CREATE TABLE IF NOT EXISTS unit_costs
(
    service        LowCardinality(String),
    channel        LowCardinality(String),
    effective_from Date,
    cost_omr       Decimal(12, 3),
    recorded_at    DateTime64(3, 'UTC') DEFAULT now64(3),
    recorded_by    String DEFAULT '',
    note           String DEFAULT ''
)
ENGINE = MergeTree
ORDER BY (service, channel, effective_from, recorded_at);

CREATE VIEW IF NOT EXISTS v_unit_costs AS
SELECT
    service,
    channel,
    effective_from,
    argMax(cost_omr, recorded_at) AS cost_omr,
    max(recorded_at) AS latest_recorded_at
FROM unit_costs
GROUP BY service, channel, effective_from;

-- 004_events_rollup
ALTER TABLE events MODIFY SETTING lightweight_mutation_projection_mode = 'rebuild';

ALTER TABLE events ADD PROJECTION IF NOT EXISTS p_daily
(
    SELECT
        toDate(occurred_at, 'Asia/Muscat') AS day,
        governorate,
        entity,
        service,
        channel,
        mode,
        status,
        sum(quantity),
        count(),
        sumIf(quantity, automated),
        sum(isNotNull(satisfaction)),
        sum(satisfaction)
    GROUP BY day, governorate, entity, service, channel, mode, status
);

ALTER TABLE events MATERIALIZE PROJECTION p_daily;

ALTER TABLE events ADD INDEX IF NOT EXISTS idx_ingested_at ingested_at TYPE minmax GRANULARITY 1;

ALTER TABLE events MATERIALIZE INDEX idx_ingested_at;

-- 005_transactions
CREATE VIEW IF NOT EXISTS v_transactions_hourly AS
SELECT
    toStartOfHour(occurred_at, 'Asia/Muscat') AS period,
    governorate,
    entity,
    service,
    channel,
    mode,
    sum(quantity) AS transactions,
    count() AS events
FROM events
WHERE status = 'completed'
GROUP BY period, governorate, entity, service, channel, mode;

CREATE VIEW IF NOT EXISTS v_transactions_daily AS
SELECT
    toDate(occurred_at, 'Asia/Muscat') AS period,
    governorate,
    entity,
    service,
    channel,
    mode,
    sum(quantity) AS transactions,
    count() AS events
FROM events
WHERE status = 'completed'
GROUP BY period, governorate, entity, service, channel, mode;

CREATE VIEW IF NOT EXISTS v_transactions_weekly AS
SELECT
    toStartOfWeek(toDate(occurred_at, 'Asia/Muscat'), 0) AS period,
    governorate,
    entity,
    service,
    channel,
    mode,
    sum(quantity) AS transactions,
    count() AS events
FROM events
WHERE status = 'completed'
GROUP BY period, governorate, entity, service, channel, mode;

CREATE VIEW IF NOT EXISTS v_transactions_monthly AS
SELECT
    toStartOfMonth(toDate(occurred_at, 'Asia/Muscat')) AS period,
    governorate,
    entity,
    service,
    channel,
    mode,
    sum(quantity) AS transactions,
    count() AS events
FROM events
WHERE status = 'completed'
GROUP BY period, governorate, entity, service, channel, mode;

CREATE VIEW IF NOT EXISTS v_transactions_quarterly AS
SELECT
    toStartOfQuarter(toDate(occurred_at, 'Asia/Muscat')) AS period,
    governorate,
    entity,
    service,
    channel,
    mode,
    sum(quantity) AS transactions,
    count() AS events
FROM events
WHERE status = 'completed'
GROUP BY period, governorate, entity, service, channel, mode;

CREATE VIEW IF NOT EXISTS v_transactions_yearly AS
SELECT
    toStartOfYear(toDate(occurred_at, 'Asia/Muscat')) AS period,
    governorate,
    entity,
    service,
    channel,
    mode,
    sum(quantity) AS transactions,
    count() AS events
FROM events
WHERE status = 'completed'
GROUP BY period, governorate, entity, service, channel, mode;

-- 006_indicators
CREATE VIEW IF NOT EXISTS v_digital_takeup_daily AS
SELECT
    period,
    governorate,
    entity,
    service,
    sumIf(transactions, mode = 'digital') AS completed_digital,
    sum(transactions) AS completed_all,
    completed_digital / completed_all AS digital_takeup
FROM
(
    SELECT toDate(occurred_at, 'Asia/Muscat') AS period, governorate, entity, service, mode, sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, entity, service, mode
)
GROUP BY period, governorate, entity, service;

CREATE VIEW IF NOT EXISTS v_digital_takeup_weekly AS
SELECT
    period,
    governorate,
    entity,
    service,
    sumIf(transactions, mode = 'digital') AS completed_digital,
    sum(transactions) AS completed_all,
    completed_digital / completed_all AS digital_takeup
FROM
(
    SELECT toStartOfWeek(toDate(occurred_at, 'Asia/Muscat'), 0) AS period, governorate, entity, service, mode, sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, entity, service, mode
)
GROUP BY period, governorate, entity, service;

CREATE VIEW IF NOT EXISTS v_digital_takeup_monthly AS
SELECT
    period,
    governorate,
    entity,
    service,
    sumIf(transactions, mode = 'digital') AS completed_digital,
    sum(transactions) AS completed_all,
    completed_digital / completed_all AS digital_takeup
FROM
(
    SELECT toStartOfMonth(toDate(occurred_at, 'Asia/Muscat')) AS period, governorate, entity, service, mode, sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, entity, service, mode
)
GROUP BY period, governorate, entity, service;

CREATE VIEW IF NOT EXISTS v_digital_takeup_quarterly AS
SELECT
    period,
    governorate,
    entity,
    service,
    sumIf(transactions, mode = 'digital') AS completed_digital,
    sum(transactions) AS completed_all,
    completed_digital / completed_all AS digital_takeup
FROM
(
    SELECT toStartOfQuarter(toDate(occurred_at, 'Asia/Muscat')) AS period, governorate, entity, service, mode, sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, entity, service, mode
)
GROUP BY period, governorate, entity, service;

CREATE VIEW IF NOT EXISTS v_digital_takeup_yearly AS
SELECT
    period,
    governorate,
    entity,
    service,
    sumIf(transactions, mode = 'digital') AS completed_digital,
    sum(transactions) AS completed_all,
    completed_digital / completed_all AS digital_takeup
FROM
(
    SELECT toStartOfYear(toDate(occurred_at, 'Asia/Muscat')) AS period, governorate, entity, service, mode, sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, entity, service, mode
)
GROUP BY period, governorate, entity, service;

CREATE VIEW IF NOT EXISTS v_digital_takeup_governorate_daily AS
SELECT
    period,
    governorate,
    sumIf(transactions, mode = 'digital') AS completed_digital,
    sum(transactions) AS completed_all,
    completed_digital / completed_all AS digital_takeup
FROM
(
    SELECT toDate(occurred_at, 'Asia/Muscat') AS period, governorate, mode, sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, mode
)
GROUP BY period, governorate;

CREATE VIEW IF NOT EXISTS v_digital_takeup_governorate_weekly AS
SELECT
    period,
    governorate,
    sumIf(transactions, mode = 'digital') AS completed_digital,
    sum(transactions) AS completed_all,
    completed_digital / completed_all AS digital_takeup
FROM
(
    SELECT toStartOfWeek(toDate(occurred_at, 'Asia/Muscat'), 0) AS period, governorate, mode, sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, mode
)
GROUP BY period, governorate;

CREATE VIEW IF NOT EXISTS v_digital_takeup_governorate_monthly AS
SELECT
    period,
    governorate,
    sumIf(transactions, mode = 'digital') AS completed_digital,
    sum(transactions) AS completed_all,
    completed_digital / completed_all AS digital_takeup
FROM
(
    SELECT toStartOfMonth(toDate(occurred_at, 'Asia/Muscat')) AS period, governorate, mode, sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, mode
)
GROUP BY period, governorate;

CREATE VIEW IF NOT EXISTS v_digital_takeup_governorate_quarterly AS
SELECT
    period,
    governorate,
    sumIf(transactions, mode = 'digital') AS completed_digital,
    sum(transactions) AS completed_all,
    completed_digital / completed_all AS digital_takeup
FROM
(
    SELECT toStartOfQuarter(toDate(occurred_at, 'Asia/Muscat')) AS period, governorate, mode, sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, mode
)
GROUP BY period, governorate;

CREATE VIEW IF NOT EXISTS v_digital_takeup_governorate_yearly AS
SELECT
    period,
    governorate,
    sumIf(transactions, mode = 'digital') AS completed_digital,
    sum(transactions) AS completed_all,
    completed_digital / completed_all AS digital_takeup
FROM
(
    SELECT toStartOfYear(toDate(occurred_at, 'Asia/Muscat')) AS period, governorate, mode, sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, mode
)
GROUP BY period, governorate;

CREATE VIEW IF NOT EXISTS v_completion_rate_monthly AS
SELECT
    period,
    entity,
    service,
    channel,
    mode,
    sumIf(transactions, status = 'completed') AS completed,
    sumIf(transactions, status = 'abandoned') AS abandoned,
    sumIf(transactions, status = 'rejected') AS rejected,
    sumIf(transactions, status = 'submitted') AS submitted,
    if(completed + abandoned + rejected = 0, NULL, completed / (completed + abandoned + rejected))
        AS completion_rate
FROM
(
    SELECT toStartOfMonth(toDate(occurred_at, 'Asia/Muscat')) AS period, entity, service, channel, mode, status, sum(quantity) AS transactions
    FROM events
    GROUP BY period, entity, service, channel, mode, status
)
GROUP BY period, entity, service, channel, mode;

CREATE VIEW IF NOT EXISTS v_completion_rate_yearly AS
SELECT
    period,
    entity,
    service,
    channel,
    mode,
    sumIf(transactions, status = 'completed') AS completed,
    sumIf(transactions, status = 'abandoned') AS abandoned,
    sumIf(transactions, status = 'rejected') AS rejected,
    sumIf(transactions, status = 'submitted') AS submitted,
    if(completed + abandoned + rejected = 0, NULL, completed / (completed + abandoned + rejected))
        AS completion_rate
FROM
(
    SELECT toStartOfYear(toDate(occurred_at, 'Asia/Muscat')) AS period, entity, service, channel, mode, status, sum(quantity) AS transactions
    FROM events
    GROUP BY period, entity, service, channel, mode, status
)
GROUP BY period, entity, service, channel, mode;

CREATE VIEW IF NOT EXISTS v_automated_share_monthly AS
SELECT
    period,
    governorate,
    entity,
    service,
    sum(automated) AS completed_automated,
    sum(transactions) AS completed,
    completed_automated / completed AS automated_share
FROM
(
    SELECT toStartOfMonth(toDate(occurred_at, 'Asia/Muscat')) AS period, governorate, entity, service, sumIf(quantity, automated) AS automated,
           sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, entity, service
)
GROUP BY period, governorate, entity, service;

CREATE VIEW IF NOT EXISTS v_automated_share_yearly AS
SELECT
    period,
    governorate,
    entity,
    service,
    sum(automated) AS completed_automated,
    sum(transactions) AS completed,
    completed_automated / completed AS automated_share
FROM
(
    SELECT toStartOfYear(toDate(occurred_at, 'Asia/Muscat')) AS period, governorate, entity, service, sumIf(quantity, automated) AS automated,
           sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, entity, service
)
GROUP BY period, governorate, entity, service;

CREATE VIEW IF NOT EXISTS v_satisfaction_monthly AS
SELECT
    period,
    entity,
    service,
    mode,
    sum(n) AS responses,
    sum(score) / responses AS average_score,
    (average_score - 1) / 4 * 100 AS satisfaction_pct
FROM
(
    SELECT toStartOfMonth(toDate(occurred_at, 'Asia/Muscat')) AS period, entity, service, mode, sum(isNotNull(satisfaction)) AS n, sum(satisfaction) AS score
    FROM events
    GROUP BY period, entity, service, mode
)
GROUP BY period, entity, service, mode
HAVING responses > 0;

CREATE VIEW IF NOT EXISTS v_satisfaction_national_monthly AS
SELECT
    period,
    mode,
    sum(n) AS responses,
    sum(score) / responses AS average_score,
    (average_score - 1) / 4 * 100 AS satisfaction_pct
FROM
(
    SELECT toStartOfMonth(toDate(occurred_at, 'Asia/Muscat')) AS period, mode, sum(isNotNull(satisfaction)) AS n, sum(satisfaction) AS score
    FROM events
    GROUP BY period, mode
)
GROUP BY period, mode
HAVING responses > 0;

CREATE VIEW IF NOT EXISTS v_satisfaction_yearly AS
SELECT
    period,
    entity,
    service,
    mode,
    sum(n) AS responses,
    sum(score) / responses AS average_score,
    (average_score - 1) / 4 * 100 AS satisfaction_pct
FROM
(
    SELECT toStartOfYear(toDate(occurred_at, 'Asia/Muscat')) AS period, entity, service, mode, sum(isNotNull(satisfaction)) AS n, sum(satisfaction) AS score
    FROM events
    GROUP BY period, entity, service, mode
)
GROUP BY period, entity, service, mode
HAVING responses > 0;

CREATE VIEW IF NOT EXISTS v_satisfaction_national_yearly AS
SELECT
    period,
    mode,
    sum(n) AS responses,
    sum(score) / responses AS average_score,
    (average_score - 1) / 4 * 100 AS satisfaction_pct
FROM
(
    SELECT toStartOfYear(toDate(occurred_at, 'Asia/Muscat')) AS period, mode, sum(isNotNull(satisfaction)) AS n, sum(satisfaction) AS score
    FROM events
    GROUP BY period, mode
)
GROUP BY period, mode
HAVING responses > 0;

CREATE VIEW IF NOT EXISTS v_service_indicators_monthly AS
SELECT
    s.period AS period,
    s.entity AS entity,
    s.service AS service,
    r.name_en AS service_name_en,
    r.name_ar AS service_name_ar,
    s.completed AS transactions,
    s.completed_digital AS completed_digital,
    if(s.completed = 0, NULL, s.completed_digital / s.completed) AS digital_takeup,
    if(s.closed = 0, NULL, s.completed / s.closed) AS completion_rate,
    if(s.completed = 0, NULL, s.completed_automated / s.completed) AS automated_share,
    s.responses AS responses,
    if(s.responses = 0, NULL, (s.score / s.responses - 1) / 4 * 100) AS satisfaction_pct
FROM
(
    SELECT
        period, entity, service,
        sumIf(transactions, status = 'completed') AS completed,
        sumIf(transactions, status = 'completed' AND mode = 'digital') AS completed_digital,
        sumIf(transactions, status IN ('completed', 'abandoned', 'rejected')) AS closed,
        sumIf(automated, status = 'completed') AS completed_automated,
        sum(n) AS responses,
        sum(score_sum) AS score
    FROM
    (
        SELECT toStartOfMonth(toDate(occurred_at, 'Asia/Muscat')) AS period, entity, service, mode, status, sum(quantity) AS transactions,
               sumIf(quantity, automated) AS automated, sum(isNotNull(satisfaction)) AS n,
               sum(satisfaction) AS score_sum
        FROM events
        GROUP BY period, entity, service, mode, status
    )
    GROUP BY period, entity, service
) AS s
LEFT JOIN ref_services AS r ON r.code = s.service;

CREATE VIEW IF NOT EXISTS v_service_indicators_yearly AS
SELECT
    s.period AS period,
    s.entity AS entity,
    s.service AS service,
    r.name_en AS service_name_en,
    r.name_ar AS service_name_ar,
    s.completed AS transactions,
    s.completed_digital AS completed_digital,
    if(s.completed = 0, NULL, s.completed_digital / s.completed) AS digital_takeup,
    if(s.closed = 0, NULL, s.completed / s.closed) AS completion_rate,
    if(s.completed = 0, NULL, s.completed_automated / s.completed) AS automated_share,
    s.responses AS responses,
    if(s.responses = 0, NULL, (s.score / s.responses - 1) / 4 * 100) AS satisfaction_pct
FROM
(
    SELECT
        period, entity, service,
        sumIf(transactions, status = 'completed') AS completed,
        sumIf(transactions, status = 'completed' AND mode = 'digital') AS completed_digital,
        sumIf(transactions, status IN ('completed', 'abandoned', 'rejected')) AS closed,
        sumIf(automated, status = 'completed') AS completed_automated,
        sum(n) AS responses,
        sum(score_sum) AS score
    FROM
    (
        SELECT toStartOfYear(toDate(occurred_at, 'Asia/Muscat')) AS period, entity, service, mode, status, sum(quantity) AS transactions,
               sumIf(quantity, automated) AS automated, sum(isNotNull(satisfaction)) AS n,
               sum(satisfaction) AS score_sum
        FROM events
        GROUP BY period, entity, service, mode, status
    )
    GROUP BY period, entity, service
) AS s
LEFT JOIN ref_services AS r ON r.code = s.service;

-- 007_costs_and_catalogue
CREATE VIEW IF NOT EXISTS v_costed_transactions_daily AS
SELECT
    d.period AS period,
    d.service AS service,
    d.channel AS channel,
    d.mode AS mode,
    d.completed AS completed,
    c.known AS known,
    c.cost_omr AS unit_cost_omr,
    d.completed * c.cost_omr AS cost
FROM
(
    SELECT toDate(occurred_at, 'Asia/Muscat') AS period, service, channel, mode, sum(quantity) AS completed
    FROM events
    WHERE status = 'completed'
    GROUP BY period, service, channel, mode
) AS d
ASOF LEFT JOIN
(
    SELECT service, channel, effective_from, cost_omr, toUInt8(1) AS known FROM v_unit_costs
) AS c
ON d.service = c.service AND d.channel = c.channel AND d.period >= c.effective_from;

CREATE VIEW IF NOT EXISTS v_cost_per_transaction_monthly AS
SELECT
    toStartOfMonth(period) AS period,
    channel,
    mode,
    sum(completed) AS transactions,
    sumIf(completed, known = 1) AS costed_transactions,
    sum(cost) AS total_cost_omr,
    if(costed_transactions = 0, NULL, round(toFloat64(total_cost_omr) / costed_transactions, 3))
        AS cost_per_transaction_omr
FROM v_costed_transactions_daily
GROUP BY period, channel, mode;

CREATE VIEW IF NOT EXISTS v_cost_per_transaction_yearly AS
SELECT
    toStartOfYear(period) AS period,
    channel,
    mode,
    sum(completed) AS transactions,
    sumIf(completed, known = 1) AS costed_transactions,
    sum(cost) AS total_cost_omr,
    if(costed_transactions = 0, NULL, round(toFloat64(total_cost_omr) / costed_transactions, 3))
        AS cost_per_transaction_omr
FROM v_costed_transactions_daily
GROUP BY period, channel, mode;

CREATE VIEW IF NOT EXISTS v_services_digitised_monthly AS
WITH used AS
(
    SELECT toStartOfMonth(toDate(occurred_at, 'Asia/Muscat')) AS period, governorate, entity, service, mode,
           sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, entity, service, mode
)
SELECT
    p.period AS period,
    eg.governorate AS governorate,
    eg.entity AS entity,
    c.services AS catalogue_services,
    d.services_digitised AS services_digitised,
    d.services_digitised / c.services AS share_digitised
FROM (SELECT DISTINCT period FROM used) AS p
CROSS JOIN v_entity_governorates AS eg
INNER JOIN (SELECT entity, count() AS services FROM ref_services GROUP BY entity) AS c ON c.entity = eg.entity
LEFT JOIN
(
    SELECT period, governorate, entity, uniqExact(service) AS services_digitised
    FROM used WHERE mode = 'digital' GROUP BY period, governorate, entity
) AS d ON d.period = p.period AND d.governorate = eg.governorate AND d.entity = eg.entity;

CREATE VIEW IF NOT EXISTS v_services_digitised_yearly AS
WITH used AS
(
    SELECT toStartOfYear(toDate(occurred_at, 'Asia/Muscat')) AS period, governorate, entity, service, mode,
           sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, entity, service, mode
)
SELECT
    p.period AS period,
    eg.governorate AS governorate,
    eg.entity AS entity,
    c.services AS catalogue_services,
    d.services_digitised AS services_digitised,
    d.services_digitised / c.services AS share_digitised
FROM (SELECT DISTINCT period FROM used) AS p
CROSS JOIN v_entity_governorates AS eg
INNER JOIN (SELECT entity, count() AS services FROM ref_services GROUP BY entity) AS c ON c.entity = eg.entity
LEFT JOIN
(
    SELECT period, governorate, entity, uniqExact(service) AS services_digitised
    FROM used WHERE mode = 'digital' GROUP BY period, governorate, entity
) AS d ON d.period = p.period AND d.governorate = eg.governorate AND d.entity = eg.entity;

CREATE VIEW IF NOT EXISTS v_services_digitised_between AS
WITH used AS
(
    SELECT governorate, entity, service, sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed' AND mode = 'digital'
      AND toDate(occurred_at, 'Asia/Muscat') BETWEEN {first_day:Date} AND {last_day:Date}
    GROUP BY governorate, entity, service
)
SELECT
    eg.governorate AS governorate,
    eg.entity AS entity,
    c.services AS catalogue_services,
    d.services_digitised AS services_digitised,
    d.services_digitised / c.services AS share_digitised
FROM v_entity_governorates AS eg
INNER JOIN (SELECT entity, count() AS services FROM ref_services GROUP BY entity) AS c ON c.entity = eg.entity
LEFT JOIN
(
    SELECT governorate, entity, uniqExact(service) AS services_digitised FROM used GROUP BY governorate, entity
) AS d ON d.governorate = eg.governorate AND d.entity = eg.entity;

-- 008_coverage_and_late_data
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

-- 010_operations
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

-- 011_programme
CREATE VIEW IF NOT EXISTS v_programme_entities AS
SELECT
    code AS entity,
    if(governorate IS NULL, code, concat('admin:', assumeNotNull(governorate))) AS programme_entity,
    if(governorate IS NULL, 'national', 'administration') AS scope,
    governorate
FROM ref_entities;

CREATE VIEW IF NOT EXISTS v_programme_digital_between AS
SELECT
    p.programme_entity AS programme_entity,
    p.scope AS scope,
    d.entity AS entity,
    d.service AS service,
    d.governorate AS governorate,
    d.transactions AS transactions,
    d.events AS events
FROM
(
    SELECT entity, service, governorate, sum(quantity) AS transactions, count() AS events
    FROM events
    WHERE status = 'completed' AND mode = 'digital'
      AND toDate(occurred_at, 'Asia/Muscat') BETWEEN {first_day:Date} AND {last_day:Date}
    GROUP BY entity, service, governorate
) AS d
LEFT JOIN v_programme_entities AS p ON p.entity = d.entity;

CREATE VIEW IF NOT EXISTS v_service_first_digital AS
SELECT
    service,
    entity,
    min(toDate(occurred_at, 'Asia/Muscat')) AS first_digital_day,
    max(toDate(occurred_at, 'Asia/Muscat')) AS last_digital_day,
    sum(quantity) AS transactions
FROM events
WHERE status = 'completed' AND mode = 'digital'
GROUP BY service, entity;

CREATE VIEW IF NOT EXISTS v_services_digitised_national_between AS
SELECT
    c.entity AS entity,
    c.services AS catalogue_services,
    d.services_digitised AS services_digitised,
    d.services_digitised / c.services AS share_digitised
FROM (SELECT entity, count() AS services FROM ref_services GROUP BY entity) AS c
LEFT JOIN
(
    SELECT entity, uniqExact(service) AS services_digitised
    FROM events
    WHERE status = 'completed' AND mode = 'digital'
      AND toDate(occurred_at, 'Asia/Muscat') BETWEEN {first_day:Date} AND {last_day:Date}
    GROUP BY entity
) AS d ON d.entity = c.entity;

CREATE VIEW IF NOT EXISTS v_satisfaction_national_between AS
SELECT
    mode,
    sum(n) AS responses,
    sum(score) / responses AS average_score,
    (average_score - 1) / 4 * 100 AS satisfaction_pct
FROM
(
    SELECT mode, sum(isNotNull(satisfaction)) AS n, sum(satisfaction) AS score
    FROM events
    WHERE toDate(occurred_at, 'Asia/Muscat') BETWEEN {first_day:Date} AND {last_day:Date}
    GROUP BY mode
)
GROUP BY mode
HAVING responses > 0;

-- 012_scorecard
CREATE VIEW IF NOT EXISTS v_entity_scorecard_between AS
SELECT
    programme_entity,
    completed_digital,
    completed_all,
    digital_takeup,
    completion_rate,
    satisfaction_pct,
    services_digitised,
    catalogue_services,
    share_digitised,
    round(100 * ({w_takeup:Float64} * digital_takeup + {w_completion:Float64} * completion_rate
                 + {w_satisfaction:Float64} * satisfaction_pct / 100
                 + {w_services:Float64} * share_digitised)
          / ({w_takeup:Float64} + {w_completion:Float64} + {w_satisfaction:Float64} + {w_services:Float64}), 1)
        AS score,
    multiIf(score >= 90, 'advanced', score >= 71, 'above average', score >= 50, 'average',
            score >= 36, 'below average', score <= 25, 'low', 'unbanded') AS band
FROM
(
    SELECT
        p.programme_entity AS programme_entity,
        sumIf(e.transactions, e.status = 'completed' AND e.mode = 'digital') AS completed_digital,
        sumIf(e.transactions, e.status = 'completed') AS completed_all,
        if(completed_all = 0, 0, completed_digital / completed_all) AS digital_takeup,
        sumIf(e.transactions, e.status IN ('abandoned', 'rejected')) AS not_completed,
        if(completed_all + not_completed = 0, 0, completed_all / (completed_all + not_completed))
            AS completion_rate,
        sumIf(e.rated, e.mode = 'digital') AS responses,
        if(responses = 0, 0, (sumIf(e.score, e.mode = 'digital') / responses - 1) / 4 * 100)
            AS satisfaction_pct,
        uniqExactIf(e.service, e.status = 'completed' AND e.mode = 'digital') AS services_digitised,
        any(c.services) AS catalogue_services,
        services_digitised / catalogue_services AS share_digitised
    FROM
    (
        SELECT entity, service, mode, status, sum(quantity) AS transactions,
               sum(isNotNull(satisfaction)) AS rated, sum(satisfaction) AS score
        FROM events
        WHERE toDate(occurred_at, 'Asia/Muscat') BETWEEN {first_day:Date} AND {last_day:Date}
        GROUP BY entity, service, mode, status
    ) AS e
    INNER JOIN v_programme_entities AS p ON p.entity = e.entity
    INNER JOIN
    (
        SELECT p2.programme_entity AS programme_entity, count() AS services
        FROM ref_services AS s INNER JOIN v_programme_entities AS p2 ON p2.entity = s.entity
        GROUP BY p2.programme_entity
    ) AS c ON c.programme_entity = p.programme_entity
    GROUP BY p.programme_entity
);

-- 013_personal_data_and_entity_ids
ALTER TABLE rejected ADD COLUMN IF NOT EXISTS entity LowCardinality(String) DEFAULT '';

ALTER TABLE rejected ADD COLUMN IF NOT EXISTS expires_at DateTime64(3, 'UTC') DEFAULT rejected_at + INTERVAL 30 DAY;

ALTER TABLE rejected MODIFY TTL toDateTime(expires_at);

ALTER TABLE rejected UPDATE
    entity = if(match(JSONExtractString(payload, 'entity'), '^[A-Z][A-Z0-9_-]{0,31}$'),
                JSONExtractString(payload, 'entity'), ''),
    payload = '{"redacted":"tahawul-redacted-v1","removed_by":"migration 013"}',
    reason = concat(reason_code, ' (reason text removed by migration 013)')
WHERE NOT startsWith(payload, '{"redacted":');

ALTER TABLE duplicates ADD COLUMN IF NOT EXISTS entity LowCardinality(String) DEFAULT '';

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

-- 014_runs
CREATE TABLE IF NOT EXISTS runs
(
    run_id UUID,
    profile LowCardinality(String),
    scale Decimal(38, 12),
    seed Int64,
    duplicate_rate Float64,
    invalid_rate Float64,
    started_at DateTime64(3, 'UTC'),
    finished_at Nullable(DateTime64(3, 'UTC')),
    input_records UInt64,
    written_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(written_at)
ORDER BY run_id;

-- 015_programme_published
CREATE TABLE IF NOT EXISTS ref_published
(
    figure      String,
    description String,
    scope       String,
    period_from Date,
    period_to   Date,
    value       UInt64,
    unit        LowCardinality(String),
    rounding    String,
    check_name  LowCardinality(String)
)
ENGINE = MergeTree
ORDER BY figure;

CREATE VIEW IF NOT EXISTS v_programme_published_digital AS
WITH
    (SELECT min(toDate(occurred_at, 'Asia/Muscat')) FROM events WHERE status = 'completed') AS held_from,
    (SELECT max(toDate(occurred_at, 'Asia/Muscat')) FROM events WHERE status = 'completed') AS held_to,
    (SELECT multiIf(uniqExact(scale) = 0, toDecimal128(1, 12), uniqExact(scale) = 1,
                    toDecimal128(any(scale), 12), NULL) FROM runs FINAL) AS run_scale
SELECT
    f.figure AS figure,
    f.scope AS scope,
    if(startsWith(f.scope, 'administration:'), substring(f.scope, 16), '') AS governorate,
    f.period_from AS period_from,
    f.period_to AS period_to,
    f.rounding AS rounding,
    run_scale AS scale,
    if(f.rounding = 'exact', floor(toDecimal128(f.value, 0) * run_scale + toDecimal128('0.5', 12)),
       toDecimal128(f.value, 0) * run_scale) AS published,
    sumIf(d.transactions, d.day >= f.period_from AND d.day <= f.period_to
          AND (f.scope = 'national' OR d.programme_entity = concat('admin:', substring(f.scope, 16))))
        AS counted,
    multiIf(f.rounding = 'exact', counted = published,
            f.rounding = 'over', counted > published,
            counted >= (toDecimal128(f.value, 0) - toDecimal128(f.rounding, 0) / 2) * run_scale
            AND counted < (toDecimal128(f.value, 0) + toDecimal128(f.rounding, 0) / 2) * run_scale) AS within
FROM ref_published AS f
CROSS JOIN
(
    SELECT toDate(e.occurred_at, 'Asia/Muscat') AS day, p.programme_entity AS programme_entity,
           sum(e.quantity) AS transactions
    FROM events AS e
    LEFT JOIN v_programme_entities AS p ON p.entity = e.entity
    WHERE e.status = 'completed' AND e.mode = 'digital'
    GROUP BY day, programme_entity
) AS d
WHERE f.check_name = 'digital_transactions'
  AND (f.scope = 'national' OR startsWith(f.scope, 'administration:'))
  AND f.period_from >= held_from AND f.period_to <= held_to
GROUP BY f.figure, f.scope, f.period_from, f.period_to, f.rounding, f.value;

CREATE VIEW IF NOT EXISTS v_programme_targets AS
SELECT
    d.figure AS figure,
    d.period_to AS as_of,
    d.value AS achieved,
    if(d.unit = 'percent', toUInt64(100), t.value) AS target,
    achieved / target AS progress
FROM ref_published AS d
LEFT JOIN ref_published AS t ON t.figure = replaceRegexpOne(d.figure, '-2021-2024$', '-target-2025')
WHERE d.figure IN ('services-digitised-2021-2024', 'services-simplified-2021-2024',
                   'services-digitised-share-2025-may', 'priority-services-simplified-2025-may');

-- 016_control_totals
CREATE TABLE IF NOT EXISTS control_totals
(
    entity        LowCardinality(String),
    day           Date,
    service       LowCardinality(String),
    channel       LowCardinality(String),
    completed     UInt64,
    stated_at     DateTime64(3, 'UTC'),
    ingested_at   DateTime64(3, 'UTC'),
    src_cluster   LowCardinality(String),
    src_topic     LowCardinality(String),
    src_partition UInt32,
    src_offset    UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (entity, day, service, channel, stated_at);

CREATE VIEW IF NOT EXISTS v_control_totals AS
SELECT
    entity,
    day,
    service,
    channel,
    argMax(t.completed, (t.stated_at, t.ingested_at, t.src_offset)) AS completed,
    max(t.stated_at) AS stated_at,
    count() AS statements
FROM control_totals AS t
GROUP BY entity, day, service, channel;

CREATE VIEW IF NOT EXISTS v_completeness AS
SELECT
    day,
    entity,
    service,
    channel,
    if(coalesce(t.has_total, 0) = 1, toNullable(toUInt64(coalesce(t.completed, 0))), NULL) AS control_total,
    toUInt64(coalesce(c.counted, 0)) AS counted,
    if(coalesce(t.has_total, 0) = 1,
       toNullable(toInt64(coalesce(c.counted, 0)) - toInt64(coalesce(t.completed, 0))), NULL) AS difference,
    if(coalesce(t.has_total, 0) = 1, toNullable(t.stated_at), NULL) AS stated_at,
    toUInt64(coalesce(t.statements, 0)) AS statements,
    multiIf(
        coalesce(t.has_total, 0) = 0, 'no_control_total',
        coalesce(c.counted, 0) = coalesce(t.completed, 0), 'complete',
        coalesce(c.counted, 0) < coalesce(t.completed, 0), 'missing_events',
        'extra_events'
    ) AS status
FROM
(
    SELECT day, entity, service, channel, sum(transactions) AS counted
    FROM v_counts_daily
    GROUP BY day, entity, service, channel
) AS c
FULL OUTER JOIN
(
    SELECT day, entity, service, channel, completed, stated_at, statements, toUInt8(1) AS has_total
    FROM v_control_totals
) AS t USING (day, entity, service, channel);

-- 017_exchanges
CREATE TABLE IF NOT EXISTS exchanges
(
    exchange_id   UUID,
    side          LowCardinality(String),  -- provider | consumer: who reports (and signed) this half
    provider      LowCardinality(String),
    consumer      LowCardinality(String),
    product       LowCardinality(String),
    items         UInt32,
    outcome       LowCardinality(String),  -- success | timeout | provider_error | ... (schemas/exchange.py)
    occurred_at   DateTime64(3, 'UTC'),
    fingerprint   UInt64,
    src_cluster   LowCardinality(String),
    src_topic     LowCardinality(String),
    src_partition UInt32,
    src_offset    UInt64,
    ingested_at   DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYear(occurred_at, 'Asia/Muscat')
ORDER BY (exchange_id, side);

CREATE TABLE IF NOT EXISTS exchange_counts_minute
(
    minute        DateTime('UTC'),
    provider      LowCardinality(String),
    consumer      LowCardinality(String),
    product       LowCardinality(String),
    outcome       LowCardinality(String),
    basis         LowCardinality(String),  -- provider | consumer: the side the figures come from
    exchanges     Int64,
    items         Int64,
    src_cluster   LowCardinality(String),
    src_topic     LowCardinality(String),
    src_partition UInt32,
    src_offset    UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(minute, 'Asia/Muscat')
ORDER BY (provider, consumer, product, outcome, minute);

CREATE TABLE IF NOT EXISTS exchange_quality_minute
(
    minute        DateTime('UTC'),
    provider      LowCardinality(String),
    consumer      LowCardinality(String),
    product       LowCardinality(String),
    status        LowCardinality(String),
    halves        Int64,
    items         Int64,
    src_cluster   LowCardinality(String),
    src_topic     LowCardinality(String),
    src_partition UInt32,
    src_offset    UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(minute, 'Asia/Muscat')
ORDER BY (status, provider, consumer, product, minute);

CREATE TABLE IF NOT EXISTS exchange_duplicates
(
    exchange_id   UUID,
    side          LowCardinality(String),
    provider      LowCardinality(String),
    consumer      LowCardinality(String),
    seen_at       DateTime64(3, 'UTC'),
    src_cluster   LowCardinality(String),
    src_topic     LowCardinality(String),
    src_partition UInt32,
    src_offset    UInt64
)
ENGINE = MergeTree
ORDER BY (exchange_id, seen_at);

-- 018_exchange_views
CREATE VIEW IF NOT EXISTS v_exchange_cells_daily AS
SELECT
    toDate(minute, 'Asia/Muscat') AS day,
    provider,
    consumer,
    product,
    outcome,
    sum(exchanges) AS cell_exchanges,
    sum(items) AS cell_items
FROM exchange_counts_minute
GROUP BY day, provider, consumer, product, outcome
HAVING cell_exchanges != 0 OR cell_items != 0;

CREATE VIEW IF NOT EXISTS v_exchanges_daily AS
SELECT
    t.day AS day,
    t.all_exchanges AS exchanges,
    t.success_items AS items,
    t.failed_exchanges AS failed,
    if(t.all_exchanges = 0, 0, t.failed_exchanges / t.all_exchanges) AS error_rate,
    a.active_providers AS providers,
    a.active_consumers AS consumers
FROM
(
    SELECT
        toDate(minute, 'Asia/Muscat') AS day,
        sum(exchanges) AS all_exchanges,
        sumIf(items, outcome = 'success') AS success_items,
        sumIf(exchanges, outcome != 'success') AS failed_exchanges
    FROM exchange_counts_minute
    GROUP BY day
) AS t
LEFT JOIN
(
    SELECT
        day,
        countIf(provider != '' AND net != 0) AS active_providers,
        countIf(consumer != '' AND net != 0) AS active_consumers
    FROM
    (
        SELECT toDate(minute, 'Asia/Muscat') AS day, provider, consumer, sum(exchanges) AS net
        FROM exchange_counts_minute
        GROUP BY GROUPING SETS ((day, provider), (day, consumer))
    )
    GROUP BY day
) AS a ON a.day = t.day;

CREATE VIEW IF NOT EXISTS v_exchanges_monthly AS
SELECT
    t.month AS month,
    t.all_exchanges AS exchanges,
    t.success_items AS items,
    t.failed_exchanges AS failed,
    if(t.all_exchanges = 0, 0, t.failed_exchanges / t.all_exchanges) AS error_rate,
    a.active_providers AS providers,
    a.active_consumers AS consumers
FROM
(
    SELECT
        toStartOfMonth(minute, 'Asia/Muscat') AS month,
        sum(exchanges) AS all_exchanges,
        sumIf(items, outcome = 'success') AS success_items,
        sumIf(exchanges, outcome != 'success') AS failed_exchanges
    FROM exchange_counts_minute
    GROUP BY month
) AS t
LEFT JOIN
(
    SELECT
        month,
        countIf(provider != '' AND net != 0) AS active_providers,
        countIf(consumer != '' AND net != 0) AS active_consumers
    FROM
    (
        SELECT toStartOfMonth(minute, 'Asia/Muscat') AS month, provider, consumer, sum(exchanges) AS net
        FROM exchange_counts_minute
        GROUP BY GROUPING SETS ((month, provider), (month, consumer))
    )
    GROUP BY month
) AS a ON a.month = t.month;

CREATE VIEW IF NOT EXISTS v_exchanges_yearly AS
SELECT
    t.year AS year,
    t.all_exchanges AS exchanges,
    t.success_items AS items,
    t.failed_exchanges AS failed,
    if(t.all_exchanges = 0, 0, t.failed_exchanges / t.all_exchanges) AS error_rate,
    a.active_providers AS providers,
    a.active_consumers AS consumers
FROM
(
    SELECT
        toYear(minute, 'Asia/Muscat') AS year,
        sum(exchanges) AS all_exchanges,
        sumIf(items, outcome = 'success') AS success_items,
        sumIf(exchanges, outcome != 'success') AS failed_exchanges
    FROM exchange_counts_minute
    GROUP BY year
) AS t
LEFT JOIN
(
    SELECT
        year,
        countIf(provider != '' AND net != 0) AS active_providers,
        countIf(consumer != '' AND net != 0) AS active_consumers
    FROM
    (
        SELECT toYear(minute, 'Asia/Muscat') AS year, provider, consumer, sum(exchanges) AS net
        FROM exchange_counts_minute
        GROUP BY GROUPING SETS ((year, provider), (year, consumer))
    )
    GROUP BY year
) AS a ON a.year = t.year;

CREATE VIEW IF NOT EXISTS v_exchange_pairs_between AS
SELECT
    provider,
    consumer,
    net AS exchanges,
    success_items AS items,
    failed_exchanges AS failed,
    if(net = 0, 0, failed_exchanges / net) AS error_rate
FROM
(
    SELECT
        provider,
        consumer,
        sum(exchanges) AS net,
        sumIf(items, outcome = 'success') AS success_items,
        sumIf(exchanges, outcome != 'success') AS failed_exchanges
    FROM exchange_counts_minute
    WHERE minute >= toDateTime({first_day:Date}, 'Asia/Muscat')
      AND minute < toDateTime({last_day:Date} + 1, 'Asia/Muscat')
    GROUP BY provider, consumer
    HAVING net != 0 OR success_items != 0
);

CREATE VIEW IF NOT EXISTS v_exchange_totals_between AS
SELECT
    sum(p.exchanges) AS exchanges,
    sum(p.items) AS items,
    sum(p.failed) AS failed,
    if(exchanges = 0, 0, failed / exchanges) AS error_rate,
    uniqExactIf(p.provider, p.exchanges != 0) AS providers,
    uniqExactIf(p.consumer, p.exchanges != 0) AS consumers,
    countIf(p.exchanges != 0) AS pairs
FROM v_exchange_pairs_between(first_day = {first_day:Date}, last_day = {last_day:Date}) AS p;

CREATE VIEW IF NOT EXISTS v_exchange_providers_between AS
SELECT
    p.provider AS provider,
    sum(p.exchanges) AS exchanges,
    sum(p.items) AS items,
    sum(p.failed) AS failed,
    if(exchanges = 0, 0, failed / exchanges) AS error_rate,
    countIf(p.exchanges != 0) AS consumers
FROM v_exchange_pairs_between(first_day = {first_day:Date}, last_day = {last_day:Date}) AS p
GROUP BY p.provider;

CREATE VIEW IF NOT EXISTS v_exchange_consumers_between AS
SELECT
    p.consumer AS consumer,
    sum(p.exchanges) AS exchanges,
    sum(p.items) AS items,
    sum(p.failed) AS failed,
    if(exchanges = 0, 0, failed / exchanges) AS error_rate,
    countIf(p.exchanges != 0) AS providers
FROM v_exchange_pairs_between(first_day = {first_day:Date}, last_day = {last_day:Date}) AS p
GROUP BY p.consumer;

CREATE VIEW IF NOT EXISTS v_exchange_products_between AS
SELECT
    provider,
    product,
    sum(net) AS exchanges,
    sum(success_items) AS items,
    sum(failed_exchanges) AS failed,
    if(exchanges = 0, 0, failed / exchanges) AS error_rate,
    countIf(net != 0) AS consumers
FROM
(
    SELECT
        provider,
        product,
        consumer,
        sum(exchanges) AS net,
        sumIf(items, outcome = 'success') AS success_items,
        sumIf(exchanges, outcome != 'success') AS failed_exchanges
    FROM exchange_counts_minute
    WHERE minute >= toDateTime({first_day:Date}, 'Asia/Muscat')
      AND minute < toDateTime({last_day:Date} + 1, 'Asia/Muscat')
    GROUP BY provider, product, consumer
)
GROUP BY provider, product
HAVING exchanges != 0 OR items != 0;

CREATE VIEW IF NOT EXISTS v_exchange_outcomes_between AS
SELECT
    outcome,
    sum(exchanges) AS exchanges,
    exchanges / sum(exchanges) OVER () AS share
FROM exchange_counts_minute
WHERE minute >= toDateTime({first_day:Date}, 'Asia/Muscat')
  AND minute < toDateTime({last_day:Date} + 1, 'Asia/Muscat')
GROUP BY outcome
HAVING exchanges != 0;

CREATE VIEW IF NOT EXISTS v_exchange_quality_daily AS
SELECT
    toDate(minute, 'Asia/Muscat') AS day,
    provider,
    consumer,
    product,
    if(startsWith(status, 'unmatched') AND minute > now() - INTERVAL 1 HOUR, 'waiting', status) AS state,
    sum(halves) AS halves,
    sum(items) AS items
FROM exchange_quality_minute
GROUP BY day, provider, consumer, product, state
HAVING halves != 0;

CREATE VIEW IF NOT EXISTS v_exchange_quality_between AS
SELECT
    q.provider AS provider,
    q.consumer AS consumer,
    q.unmatched_provider AS unmatched_provider,
    q.unmatched_consumer AS unmatched_consumer,
    q.mismatched AS mismatched,
    q.waiting AS waiting,
    c.exchanges AS exchanges,
    if(c.exchanges = 0, 0, (q.unmatched_provider + q.unmatched_consumer + q.mismatched) / c.exchanges)
        AS problem_rate
FROM
(
    SELECT
        provider,
        consumer,
        sumIf(halves, state = 'unmatched_provider') AS unmatched_provider,
        sumIf(halves, state = 'unmatched_consumer') AS unmatched_consumer,
        sumIf(halves, state = 'mismatched') AS mismatched,
        sumIf(halves, state = 'waiting') AS waiting
    FROM v_exchange_quality_daily
    WHERE day BETWEEN {first_day:Date} AND {last_day:Date}
    GROUP BY provider, consumer
) AS q
LEFT JOIN v_exchange_pairs_between(first_day = {first_day:Date}, last_day = {last_day:Date}) AS c
    ON c.provider = q.provider AND c.consumer = q.consumer;
