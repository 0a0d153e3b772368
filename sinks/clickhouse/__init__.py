"""ClickHouse adapter: one code path for the embedded chDB store and a ClickHouse server."""
