-- The programme's published figures (schemas/reference_data/published_figures.csv) in the
-- store, so that a dashboard shows each published figure beside the count. Loaded like the
-- catalogue (sinks/clickhouse/reference.py: after every migration, again when the CSV
-- changes); the CSV stays the only source.
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

-- Published digital-transaction figures of the programme (national and per governorate
-- administration) whose whole period the store holds, beside the count: `published` at the
-- scale of the store's simulated run (table runs; 1 for real data; NULL when runs at several
-- scales leave no one scale), exact figures rounded half up as `tahawul audit published` does,
-- and whether the count lies within the figure's rounding. The same comparison as the audit's
-- (sinks/clickhouse/published.py), for the dashboards.
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

-- The programme's targets and how far the published registry figures have come (not counted
-- from transactions: the programme publishes them). A share is shown against 100%.
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
