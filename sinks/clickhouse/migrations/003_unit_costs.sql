-- Unit costs per service and channel, maintained by administrators. Append-only: a cost
-- takes effect on effective_from and holds until the next effective_from of the same
-- (service, channel); a correction of a cost already entered is a new row with the same
-- effective_from, and the latest recorded_at wins. Nothing is ever updated in place, so
-- the history of what was believed when is kept for auditors.

CREATE TABLE IF NOT EXISTS unit_costs
(
    service        LowCardinality(String),
    channel        LowCardinality(String),
    effective_from Date,
    cost_omr       Decimal(12, 3),
    recorded_at    DateTime64(3, 'UTC') DEFAULT now64(3),
    recorded_by    String DEFAULT '',
    note           String DEFAULT ''
)
ENGINE = MergeTree
ORDER BY (service, channel, effective_from, recorded_at);

-- The cost in force from each effective_from: the latest recorded version of it.
CREATE VIEW IF NOT EXISTS v_unit_costs AS
SELECT
    service,
    channel,
    effective_from,
    argMax(cost_omr, recorded_at) AS cost_omr,
    max(recorded_at) AS latest_recorded_at
FROM unit_costs
GROUP BY service, channel, effective_from;
