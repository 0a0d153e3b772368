"""The pure domain of tahawul: the event contract, channels and reference data.

Nothing in this package performs network or database I/O; Kafka, ClickHouse and HTTP
live in adapters (``producers``, ``stream_processors``, ``sinks``) around it.
"""
