-- Cost per transaction and services digitised: indicators that join the events to tables
-- administrators maintain (unit_costs) or the reference catalogue (ref_*).

-- Daily completed transactions per service and channel, each priced at the unit cost in
-- force on that day (the latest effective_from on or before it). known = 0: no cost yet.
CREATE VIEW IF NOT EXISTS v_costed_transactions_daily AS
SELECT
    d.period AS period,
    d.service AS service,
    d.channel AS channel,
    d.mode AS mode,
    d.completed AS completed,
    c.known AS known,
    c.cost_omr AS unit_cost_omr,
    d.completed * c.cost_omr AS cost
FROM
(
    SELECT toDate(occurred_at, 'Asia/Muscat') AS period, service, channel, mode, sum(quantity) AS completed
    FROM events
    WHERE status = 'completed'
    GROUP BY period, service, channel, mode
) AS d
ASOF LEFT JOIN
(
    SELECT service, channel, effective_from, cost_omr, toUInt8(1) AS known FROM v_unit_costs
) AS c
ON d.service = c.service AND d.channel = c.channel AND d.period >= c.effective_from;

-- Cost per transaction by channel = total cost of the costed transactions / their number.
CREATE VIEW IF NOT EXISTS v_cost_per_transaction_monthly AS
SELECT
    toStartOfMonth(period) AS period,
    channel,
    mode,
    sum(completed) AS transactions,
    sumIf(completed, known = 1) AS costed_transactions,
    sum(cost) AS total_cost_omr,
    if(costed_transactions = 0, NULL, round(toFloat64(total_cost_omr) / costed_transactions, 3))
        AS cost_per_transaction_omr
FROM v_costed_transactions_daily
GROUP BY period, channel, mode;

CREATE VIEW IF NOT EXISTS v_cost_per_transaction_yearly AS
SELECT
    toStartOfYear(period) AS period,
    channel,
    mode,
    sum(completed) AS transactions,
    sumIf(completed, known = 1) AS costed_transactions,
    sum(cost) AS total_cost_omr,
    if(costed_transactions = 0, NULL, round(toFloat64(total_cost_omr) / costed_transactions, 3))
        AS cost_per_transaction_omr
FROM v_costed_transactions_daily
GROUP BY period, channel, mode;

-- Services digitised: distinct services with at least one completed digital transaction
-- in the period, per governorate and entity, beside the entity's services in the catalogue.
-- Every (governorate, entity the catalogue says serves it) appears for every period that
-- has any completed transaction, with 0 when none of its services was used digitally.
CREATE VIEW IF NOT EXISTS v_services_digitised_monthly AS
WITH used AS
(
    SELECT toStartOfMonth(toDate(occurred_at, 'Asia/Muscat')) AS period, governorate, entity, service, mode,
           sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, entity, service, mode
)
SELECT
    p.period AS period,
    eg.governorate AS governorate,
    eg.entity AS entity,
    c.services AS catalogue_services,
    d.services_digitised AS services_digitised,
    d.services_digitised / c.services AS share_digitised
FROM (SELECT DISTINCT period FROM used) AS p
CROSS JOIN v_entity_governorates AS eg
INNER JOIN (SELECT entity, count() AS services FROM ref_services GROUP BY entity) AS c ON c.entity = eg.entity
LEFT JOIN
(
    SELECT period, governorate, entity, uniqExact(service) AS services_digitised
    FROM used WHERE mode = 'digital' GROUP BY period, governorate, entity
) AS d ON d.period = p.period AND d.governorate = eg.governorate AND d.entity = eg.entity;

CREATE VIEW IF NOT EXISTS v_services_digitised_yearly AS
WITH used AS
(
    SELECT toStartOfYear(toDate(occurred_at, 'Asia/Muscat')) AS period, governorate, entity, service, mode,
           sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed'
    GROUP BY period, governorate, entity, service, mode
)
SELECT
    p.period AS period,
    eg.governorate AS governorate,
    eg.entity AS entity,
    c.services AS catalogue_services,
    d.services_digitised AS services_digitised,
    d.services_digitised / c.services AS share_digitised
FROM (SELECT DISTINCT period FROM used) AS p
CROSS JOIN v_entity_governorates AS eg
INNER JOIN (SELECT entity, count() AS services FROM ref_services GROUP BY entity) AS c ON c.entity = eg.entity
LEFT JOIN
(
    SELECT period, governorate, entity, uniqExact(service) AS services_digitised
    FROM used WHERE mode = 'digital' GROUP BY period, governorate, entity
) AS d ON d.period = p.period AND d.governorate = eg.governorate AND d.entity = eg.entity;

-- The same for any range of days (a half-year, January to October...), which distinct
-- counts cannot be summed into from shorter periods:
--   SELECT * FROM v_services_digitised_between(first_day = '2025-01-01', last_day = '2025-06-30')
CREATE VIEW IF NOT EXISTS v_services_digitised_between AS
WITH used AS
(
    SELECT governorate, entity, service, sum(quantity) AS transactions
    FROM events
    WHERE status = 'completed' AND mode = 'digital'
      AND toDate(occurred_at, 'Asia/Muscat') BETWEEN {first_day:Date} AND {last_day:Date}
    GROUP BY governorate, entity, service
)
SELECT
    eg.governorate AS governorate,
    eg.entity AS entity,
    c.services AS catalogue_services,
    d.services_digitised AS services_digitised,
    d.services_digitised / c.services AS share_digitised
FROM v_entity_governorates AS eg
INNER JOIN (SELECT entity, count() AS services FROM ref_services GROUP BY entity) AS c ON c.entity = eg.entity
LEFT JOIN
(
    SELECT governorate, entity, uniqExact(service) AS services_digitised FROM used GROUP BY governorate, entity
) AS d ON d.governorate = eg.governorate AND d.entity = eg.entity;
