"""Sinks: where counted results are stored. ClickHouse is the store of record."""
