-- Control totals (schemas/control_total.py): what each entity's own system says it completed,
-- per day (Asia/Muscat), service and channel. Stored raw, one row per statement received: a
-- restatement of a cell supersedes the earlier one in the views (the latest stated_at wins;
-- the writer's source position breaks ties), and both rows are kept for the auditor. Rows are
-- tagged with their source like events, so the writer's recovery removes those of an
-- unfinished batch. Nothing here is ever counted as a transaction.
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

-- The statement in force per cell: the latest, with how many statements the cell received.
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

-- Completeness: for every entity, day, service and channel that has a control total or a
-- counted completed transaction, the control total beside what was counted. status:
-- complete (equal), missing_events (counted less than stated), extra_events (counted more),
-- no_control_total (the entity stated nothing for the cell). `tahawul audit completeness`
-- reads it (sinks/clickhouse/completeness.py).
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
