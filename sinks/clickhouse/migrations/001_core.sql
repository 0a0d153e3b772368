-- Core tables of the store of record. Every row written by the counting writer carries the
-- source record it came from (cluster, topic, partition, offset): that is what lets a
-- restart remove an unfinished batch exactly, and lets auditors trace any count to events.

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
