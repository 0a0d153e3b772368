-- Entity scorecard: each programme entity's indicators over a range of days, combined into a
-- score 0-100 and placed in the performance bands the annual report 2024 publishes
-- (advanced 90-100, above average 71-89, average 50-70, below average 36-49, low 0-25).
-- The report gives the bands, not the formula: the weights are parameters, and the
-- defaults tahawul uses (docs/programme.md) are ours, not the programme's.
--   SELECT * FROM v_entity_scorecard_between(first_day = '2024-01-01', last_day = '2024-11-30',
--       w_takeup = 0.4, w_completion = 0.2, w_satisfaction = 0.2, w_services = 0.2)
-- Indicators: digital take-up (completed digital / completed), completion rate (completed /
-- completed + abandoned + rejected), digital satisfaction ((average score - 1) / 4) and the
-- share of the entity's catalogue services used digitally in the range. An indicator an
-- entity has no data for counts as 0. Scores between the published bands (25 to 36) are
-- 'unbanded': the source defines no band there.
CREATE VIEW IF NOT EXISTS v_entity_scorecard_between AS
SELECT
    programme_entity,
    completed_digital,
    completed_all,
    digital_takeup,
    completion_rate,
    satisfaction_pct,
    services_digitised,
    catalogue_services,
    share_digitised,
    round(100 * ({w_takeup:Float64} * digital_takeup + {w_completion:Float64} * completion_rate
                 + {w_satisfaction:Float64} * satisfaction_pct / 100
                 + {w_services:Float64} * share_digitised)
          / ({w_takeup:Float64} + {w_completion:Float64} + {w_satisfaction:Float64} + {w_services:Float64}), 1)
        AS score,
    multiIf(score >= 90, 'advanced', score >= 71, 'above average', score >= 50, 'average',
            score >= 36, 'below average', score <= 25, 'low', 'unbanded') AS band
FROM
(
    SELECT
        p.programme_entity AS programme_entity,
        sumIf(e.transactions, e.status = 'completed' AND e.mode = 'digital') AS completed_digital,
        sumIf(e.transactions, e.status = 'completed') AS completed_all,
        if(completed_all = 0, 0, completed_digital / completed_all) AS digital_takeup,
        sumIf(e.transactions, e.status IN ('abandoned', 'rejected')) AS not_completed,
        if(completed_all + not_completed = 0, 0, completed_all / (completed_all + not_completed))
            AS completion_rate,
        sumIf(e.rated, e.mode = 'digital') AS responses,
        if(responses = 0, 0, (sumIf(e.score, e.mode = 'digital') / responses - 1) / 4 * 100)
            AS satisfaction_pct,
        uniqExactIf(e.service, e.status = 'completed' AND e.mode = 'digital') AS services_digitised,
        any(c.services) AS catalogue_services,
        services_digitised / catalogue_services AS share_digitised
    FROM
    (
        SELECT entity, service, mode, status, sum(quantity) AS transactions,
               sum(isNotNull(satisfaction)) AS rated, sum(satisfaction) AS score
        FROM events
        WHERE toDate(occurred_at, 'Asia/Muscat') BETWEEN {first_day:Date} AND {last_day:Date}
        GROUP BY entity, service, mode, status
    ) AS e
    INNER JOIN v_programme_entities AS p ON p.entity = e.entity
    INNER JOIN
    (
        SELECT p2.programme_entity AS programme_entity, count() AS services
        FROM ref_services AS s INNER JOIN v_programme_entities AS p2 ON p2.entity = s.entity
        GROUP BY p2.programme_entity
    ) AS c ON c.programme_entity = p.programme_entity
    GROUP BY p.programme_entity
);
