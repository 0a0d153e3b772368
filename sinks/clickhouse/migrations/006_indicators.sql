-- Indicator views. Each computes from events (the deduplicated raw events) through an
-- inner aggregate that the p_daily projection answers; ratios are taken only after summing
-- their numerator and denominator, never averaged. Exact definitions: docs/serving-model.md.

-- Digital take-up = completed digital transactions / completed transactions on all channels.
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

-- Completion rate = completed / (completed + abandoned + rejected); submitted is still open.
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

-- Automated share = completed transactions with automated = true / completed transactions.
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

-- Satisfaction: ratings 1-5 on any event, mapped to percent as (score - 1) / 4 * 100, so
-- 1 = 0 %, 3 = 50 %, 5 = 100 %; satisfaction_pct is the mean of the mapped responses.
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

-- One row per service and period with every per-service indicator (national).
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
