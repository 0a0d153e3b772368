-- Simulated runs that filled this store: `tahawul up --simulate` writes a row when it starts
-- (finished_at NULL) and the same row again when everything it sent is counted, so that
-- `tahawul audit published` compares the store with the published figures at the scale its
-- events were simulated at, without being told (docs/programme.md). A store of real data has
-- no row here and is audited at scale 1. The later row of a run replaces the earlier one
-- (ReplacingMergeTree on `written_at`); read with FINAL or argMax.
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
