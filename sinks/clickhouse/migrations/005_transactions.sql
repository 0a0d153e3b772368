-- Transactions by period: completed events' quantity per governorate, entity, service,
-- channel and mode. Periods follow the Asia/Muscat calendar; `period` is the start of the
-- period (a Date, or a DateTime in Asia/Muscat for hours). Definitions: docs/serving-model.md.

-- period = the hour (Asia/Muscat) it started.
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

-- period = the Muscat day.
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

-- period = the Sunday that starts Oman's working week.
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

-- period = the first day of the month.
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

-- period = the first day of the quarter.
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

-- period = 1 January.
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
