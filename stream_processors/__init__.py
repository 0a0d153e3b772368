"""Stream processing: the validating Faust workers and the single counting writer.

Data flow: ``tahawul.transactions`` -> :mod:`stream_processors.app` (validate, N workers)
-> ``tahawul.validated`` -> :mod:`stream_processors.counter` (deduplicate, aggregate, one
writer) -> :mod:`sinks.clickhouse`. See docs/exactly-once.md for why it is split so.
"""
