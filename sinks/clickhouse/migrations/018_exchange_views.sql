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

-- Per day, month and year: exchanges, items, failures, error rate, active providers and
-- consumers (those with at least one exchange in the period).
CREATE VIEW IF NOT EXISTS v_exchanges_daily AS
SELECT
    day,
    sum(cell_exchanges) AS exchanges,
    sumIf(cell_items, outcome = 'success') AS items,
    sumIf(cell_exchanges, outcome != 'success') AS failed,
    if(exchanges = 0, 0, failed / exchanges) AS error_rate,
    uniqExactIf(provider, cell_exchanges != 0) AS providers,
    uniqExactIf(consumer, cell_exchanges != 0) AS consumers
FROM v_exchange_cells_daily
GROUP BY day;

CREATE VIEW IF NOT EXISTS v_exchanges_monthly AS
SELECT
    toStartOfMonth(day) AS month,
    sum(cell_exchanges) AS exchanges,
    sumIf(cell_items, outcome = 'success') AS items,
    sumIf(cell_exchanges, outcome != 'success') AS failed,
    if(exchanges = 0, 0, failed / exchanges) AS error_rate,
    uniqExactIf(provider, cell_exchanges != 0) AS providers,
    uniqExactIf(consumer, cell_exchanges != 0) AS consumers
FROM v_exchange_cells_daily
GROUP BY month;

CREATE VIEW IF NOT EXISTS v_exchanges_yearly AS
SELECT
    toYear(day) AS year,
    sum(cell_exchanges) AS exchanges,
    sumIf(cell_items, outcome = 'success') AS items,
    sumIf(cell_exchanges, outcome != 'success') AS failed,
    if(exchanges = 0, 0, failed / exchanges) AS error_rate,
    uniqExactIf(provider, cell_exchanges != 0) AS providers,
    uniqExactIf(consumer, cell_exchanges != 0) AS consumers
FROM v_exchange_cells_daily
GROUP BY year;

-- The cells of a range of Muscat days: what the per-party views below group.
CREATE VIEW IF NOT EXISTS v_exchange_cells_between AS
SELECT provider, consumer, product, outcome, sum(exchanges) AS cell_exchanges, sum(items) AS cell_items
FROM exchange_counts_minute
WHERE minute >= toDateTime({first_day:Date}, 'Asia/Muscat')
  AND minute < toDateTime({last_day:Date} + 1, 'Asia/Muscat')
GROUP BY provider, consumer, product, outcome
HAVING cell_exchanges != 0 OR cell_items != 0;

-- The totals of a range: what `tahawul audit published` compares with the platform's figures.
CREATE VIEW IF NOT EXISTS v_exchange_totals_between AS
SELECT
    sum(cell_exchanges) AS exchanges,
    sumIf(cell_items, outcome = 'success') AS items,
    sumIf(cell_exchanges, outcome != 'success') AS failed,
    if(exchanges = 0, 0, failed / exchanges) AS error_rate,
    uniqExactIf(provider, cell_exchanges != 0) AS providers,
    uniqExactIf(consumer, cell_exchanges != 0) AS consumers,
    uniqExactIf((provider, consumer), cell_exchanges != 0) AS pairs
FROM v_exchange_cells_between(first_day = {first_day:Date}, last_day = {last_day:Date});

CREATE VIEW IF NOT EXISTS v_exchange_providers_between AS
SELECT
    provider,
    sum(cell_exchanges) AS exchanges,
    sumIf(cell_items, outcome = 'success') AS items,
    sumIf(cell_exchanges, outcome != 'success') AS failed,
    if(exchanges = 0, 0, failed / exchanges) AS error_rate,
    uniqExactIf(consumer, cell_exchanges != 0) AS consumers,
    uniqExactIf(product, cell_exchanges != 0) AS products
FROM v_exchange_cells_between(first_day = {first_day:Date}, last_day = {last_day:Date})
GROUP BY provider;

CREATE VIEW IF NOT EXISTS v_exchange_consumers_between AS
SELECT
    consumer,
    sum(cell_exchanges) AS exchanges,
    sumIf(cell_items, outcome = 'success') AS items,
    sumIf(cell_exchanges, outcome != 'success') AS failed,
    if(exchanges = 0, 0, failed / exchanges) AS error_rate,
    uniqExactIf(provider, cell_exchanges != 0) AS providers
FROM v_exchange_cells_between(first_day = {first_day:Date}, last_day = {last_day:Date})
GROUP BY consumer;

CREATE VIEW IF NOT EXISTS v_exchange_pairs_between AS
SELECT
    provider,
    consumer,
    sum(cell_exchanges) AS exchanges,
    sumIf(cell_items, outcome = 'success') AS items,
    sumIf(cell_exchanges, outcome != 'success') AS failed,
    if(exchanges = 0, 0, failed / exchanges) AS error_rate
FROM v_exchange_cells_between(first_day = {first_day:Date}, last_day = {last_day:Date})
GROUP BY provider, consumer;

CREATE VIEW IF NOT EXISTS v_exchange_products_between AS
SELECT
    provider,
    product,
    sum(cell_exchanges) AS exchanges,
    sumIf(cell_items, outcome = 'success') AS items,
    sumIf(cell_exchanges, outcome != 'success') AS failed,
    if(exchanges = 0, 0, failed / exchanges) AS error_rate,
    uniqExactIf(consumer, cell_exchanges != 0) AS consumers
FROM v_exchange_cells_between(first_day = {first_day:Date}, last_day = {last_day:Date})
GROUP BY provider, product;

-- Exchanges per outcome (success and each error class) and their share of the range's.
CREATE VIEW IF NOT EXISTS v_exchange_outcomes_between AS
SELECT
    outcome,
    sum(cell_exchanges) AS exchanges,
    exchanges / sum(exchanges) OVER () AS share
FROM v_exchange_cells_between(first_day = {first_day:Date}, last_day = {last_day:Date})
GROUP BY outcome;

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
LEFT JOIN
(
    SELECT provider, consumer, sum(cell_exchanges) AS exchanges
    FROM v_exchange_cells_between(first_day = {first_day:Date}, last_day = {last_day:Date})
    GROUP BY provider, consumer
) AS c ON c.provider = q.provider AND c.consumer = q.consumer;
