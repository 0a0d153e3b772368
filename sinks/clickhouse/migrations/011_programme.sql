-- The programme's published figures (docs/programme.md): each national figure counts the
-- programme's 48 entities, each governorate figure that governorate's administration (every
-- catalogue entity serving that governorate alone). These views answer them;
-- `tahawul audit published` compares them with schemas/reference_data/published_figures.csv.

-- Every catalogue entity with the programme entity it reports under: a national entity is
-- its own, a governor's office or municipality is part of its governorate's administration.
CREATE VIEW IF NOT EXISTS v_programme_entities AS
SELECT
    code AS entity,
    if(governorate IS NULL, code, concat('admin:', assumeNotNull(governorate))) AS programme_entity,
    if(governorate IS NULL, 'national', 'administration') AS scope,
    governorate
FROM ref_entities;

-- Completed digital transactions in a range of Muscat days, per programme entity, entity,
-- service and governorate: the national figures sum all of it, an administration's figure
-- its own rows, a platform's figure its services'.
--   SELECT sum(transactions) FROM v_programme_digital_between(first_day = '2024-01-01', last_day = '2024-11-30')
CREATE VIEW IF NOT EXISTS v_programme_digital_between AS
SELECT
    p.programme_entity AS programme_entity,
    p.scope AS scope,
    d.entity AS entity,
    d.service AS service,
    d.governorate AS governorate,
    d.transactions AS transactions,
    d.events AS events
FROM
(
    SELECT entity, service, governorate, sum(quantity) AS transactions, count() AS events
    FROM events
    WHERE status = 'completed' AND mode = 'digital'
      AND toDate(occurred_at, 'Asia/Muscat') BETWEEN {first_day:Date} AND {last_day:Date}
    GROUP BY entity, service, governorate
) AS d
LEFT JOIN v_programme_entities AS p ON p.entity = d.entity;

-- Per service, the first and last Muscat day it was completed digitally in the store. A
-- service counts as newly digitised in a period when the catalogue dates its digitisation
-- in the period and its first digital day here is on or after that date, within the period.
CREATE VIEW IF NOT EXISTS v_service_first_digital AS
SELECT
    service,
    entity,
    min(toDate(occurred_at, 'Asia/Muscat')) AS first_digital_day,
    max(toDate(occurred_at, 'Asia/Muscat')) AS last_digital_day,
    sum(quantity) AS transactions
FROM events
WHERE status = 'completed' AND mode = 'digital'
GROUP BY service, entity;

-- Services digitised nationally in a range of days, per entity: a service used digitally in
-- any governorate counts once (summing the per-governorate v_services_digitised_between
-- counts a national service once per governorate it is used in).
CREATE VIEW IF NOT EXISTS v_services_digitised_national_between AS
SELECT
    c.entity AS entity,
    c.services AS catalogue_services,
    d.services_digitised AS services_digitised,
    d.services_digitised / c.services AS share_digitised
FROM (SELECT entity, count() AS services FROM ref_services GROUP BY entity) AS c
LEFT JOIN
(
    SELECT entity, uniqExact(service) AS services_digitised
    FROM events
    WHERE status = 'completed' AND mode = 'digital'
      AND toDate(occurred_at, 'Asia/Muscat') BETWEEN {first_day:Date} AND {last_day:Date}
    GROUP BY entity
) AS d ON d.entity = c.entity;

-- National average satisfaction per mode over a range of days (the published figure's
-- period need not be a calendar year), as v_satisfaction_national_yearly computes it.
CREATE VIEW IF NOT EXISTS v_satisfaction_national_between AS
SELECT
    mode,
    sum(n) AS responses,
    sum(score) / responses AS average_score,
    (average_score - 1) / 4 * 100 AS satisfaction_pct
FROM
(
    SELECT mode, sum(isNotNull(satisfaction)) AS n, sum(satisfaction) AS score
    FROM events
    WHERE toDate(occurred_at, 'Asia/Muscat') BETWEEN {first_day:Date} AND {last_day:Date}
    GROUP BY mode
)
GROUP BY mode
HAVING responses > 0;
