-- The reference catalogue (schemas/reference_data/*.csv) as tables, so that views can
-- count against it (services digitised, silent services) and show names in English and
-- Arabic. The rows are not written here: sinks/clickhouse/reference.py loads them from
-- the package CSVs after migrating, and again whenever the CSVs change (ref_loads keeps the
-- checksum of what is loaded), so the catalogue has one source and no hard-coded copy.

CREATE TABLE IF NOT EXISTS ref_governorates
(
    code       LowCardinality(String),
    name_en    String,
    name_ar    String,
    centre_en  String,
    centre_lat Float64,
    centre_lon Float64
)
ENGINE = MergeTree
ORDER BY code;

CREATE TABLE IF NOT EXISTS ref_channels
(
    code    LowCardinality(String),
    mode    LowCardinality(String),
    name_en String,
    name_ar String
)
ENGINE = MergeTree
ORDER BY code;

CREATE TABLE IF NOT EXISTS ref_entities
(
    code        LowCardinality(String),
    name_en     String,
    name_ar     String,
    governorate Nullable(String)
)
ENGINE = MergeTree
ORDER BY code;

CREATE TABLE IF NOT EXISTS ref_services
(
    code    LowCardinality(String),
    entity  LowCardinality(String),
    name_en String,
    name_ar String
)
ENGINE = MergeTree
ORDER BY (entity, code);

CREATE TABLE IF NOT EXISTS ref_loads
(
    checksum  String,
    loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY loaded_at;

-- Which governorates each entity serves: a national entity serves all eleven, a
-- governorate office or municipality only its own.
CREATE VIEW IF NOT EXISTS v_entity_governorates AS
SELECT e.code AS entity, g.code AS governorate
FROM ref_entities AS e
CROSS JOIN ref_governorates AS g
WHERE e.governorate IS NULL OR e.governorate = g.code;
