-- Named views of the national integration platform's exchanges (docs/exchanges.md, "Views").
-- They read only the counted aggregates of migration 017: exchange_counts_minute (each
-- exchange once, signed deltas that keep sums exact when a second half corrects the first)
-- and exchange_quality_minute (halves without a partner, pairs that disagree). Never the raw
-- halves: a view answers from rows that are already one per exchange, so the dashboards'
-- role needs no access to `exchanges`.
--
-- Conventions: days are Asia/Muscat; `exchanges` counts every exchange whatever its outcome,
-- `items` the items of successful exchanges only (a failed exchange delivered nothing: the
-- published "data items exchanged"), `failed` the exchanges with an error outcome and
-- `error_rate` = failed / exchanges. Cells whose deltas net to zero (a consumer half's count
-- moved to its provider half) are left out, so "active" means at least one exchange counted.
--   SELECT * FROM v_exchange_pairs_between(first_day = '2024-01-01', last_day = '2024-11-30')

-- Every counted cell per Muscat day: the base the other views group.
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

-- Per day, month and year: exchanges, items, failures, error rate, and the providers and
-- consumers active in the period (net exchanges counted in it). Sums come straight from the
-- minute cells; the active parties from each party's net in the period (GROUPING SETS: one
-- pass), so a consumer half counted on one day and moved to its provider half's next day
-- leaves no party active on the first.
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

-- Per provider-consumer pair in a range of Muscat days: what the per-party views and the
-- totals group (a few hundred pairs, so they cost one pass over the range's cells).
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

-- The totals of a range: what `tahawul audit published` compares with the platform's figures
-- (items of successful exchanges; providers and consumers with at least one exchange).
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

-- Exchanges per outcome (success and each error class) and their share of the range's.
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

-- Data quality of the pairing (X-Road Metrics' corrector reports the same): per day and
-- pair, the halves still without a partner (unmatched_provider: only the provider reported;
-- unmatched_consumer: only the consumer) and the pairs whose halves disagree (mismatched).
-- A half younger than the grace period (one hour: both sides' logs reach the platform within
-- minutes) is `waiting`, not yet a quality problem.
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

-- The quality of a range beside the exchanges counted in it: per provider-consumer pair,
-- the unmatched and mismatched halves and their share of the pair's exchanges.
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
