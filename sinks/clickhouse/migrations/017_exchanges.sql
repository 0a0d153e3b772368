-- Data exchanges over the national integration platform (schemas/exchange.py, docs/exchanges.md).
-- Each exchange may be reported twice, by its provider and by its consumer (one "half" each);
-- the counting writer (stream_processors/exchange_counter.py) pairs the halves by
-- (provider, consumer, exchange_id) and counts each exchange once, with the provider's figures
-- when its half is there, else the consumer's. Every row is tagged with its source record like
-- events, so the writer's recovery removes the rows of an unfinished batch.

-- Raw halves, each counted half exactly once (a resend goes to exchange_duplicates): the audit
-- trail, what reconcile recomputes the counts from, and what the writer reads back the figures
-- of an earlier half from when its partner arrives. Sorted by the exchange id, so pairing
-- queries (GROUP BY exchange_id) read in order and point lookups by id read a few granules.
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

-- The counted exchanges, per minute bucket (UTC), as signed deltas. Each exchange contributes
-- exactly once: +1 exchange and +items at the cell of its authoritative half (basis: which side
-- the figures come from). When a provider half arrives after its consumer half was counted,
-- the writer adds a correction: -1 and -items at the consumer half's cell (basis consumer) and
-- +1 and +items at the provider half's (basis provider). So sum(exchanges) and sum(items) over
-- any set of cells are exact at every moment, whatever order the halves came in.
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

-- Data quality of the pairing, per minute bucket (UTC) of the half concerned, as signed deltas:
-- status unmatched_provider / unmatched_consumer: +1 when a half arrives whose partner has not
--   (items: that half's items), -1 at the same cell when the partner arrives. The sum per cell
--   is the halves still waiting for their partner; the view applies the grace period.
-- status mismatched: +1 when the second half of an exchange arrives and the two disagree on
--   product, items or outcome (at the provider half's cell; items: provider's minus consumer's).
-- Halves that disagree on the parties have different pairing keys: they show as two unmatched
-- halves with one exchange_id (read them from `exchanges`).
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

-- Resends of a half already counted (same pairing key, side and content): kept, never counted.
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
