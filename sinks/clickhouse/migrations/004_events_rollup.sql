-- The rollup behind the indicator views: an aggregate projection of events per Muscat day
-- and every dimension. A projection lives inside each data part of events, computed from
-- exactly that part's rows, so it cannot drift from the raw events: recovery's DELETE of an
-- unfinished batch rebuilds the projection of the parts it touches (the mode set below;
-- the default would refuse the DELETE), and a part without its projection is simply read
-- raw. Queries are not written against it: ClickHouse answers any query over events whose
-- keys and aggregates it covers from it (docs/serving-model.md has the argument).

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

-- Coverage and late-data views select by arrival time; ingestion follows occurrence closely
-- within each part's sort order, so a min-max index skips most granules for "the last day".
ALTER TABLE events ADD INDEX IF NOT EXISTS idx_ingested_at ingested_at TYPE minmax GRANULARITY 1;

ALTER TABLE events MATERIALIZE INDEX idx_ingested_at;
