"""Prometheus metrics of the processing stages (names follow Prometheus conventions)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "tahawul_counter_events_total",
    "Source records applied by the counting writer, by outcome.",
    ["outcome"],
)
STORE_WRITE_SECONDS = Histogram(
    "tahawul_store_write_seconds", "Time to write one batch to ClickHouse."
)
STORE_WRITE_ERRORS = Counter(
    "tahawul_store_write_errors_total", "Failed batch writes to ClickHouse (each is retried)."
)
STORE_UP = Gauge("tahawul_store_up", "1 while ClickHouse writes succeed, 0 during an outage.")
OFFSET_GAPS = Counter(
    "tahawul_counter_offset_gaps_total",
    "Times the counter saw source offsets jump past ones it never received.",
)
STORE_OPEN_ERRORS = Counter(
    "tahawul_store_open_errors_total",
    "Failed attempts to open, migrate or recover the store at start-up (each is retried).",
)
BROKER_ERRORS = Counter(
    "tahawul_counter_broker_errors_total",
    "Failed polls of the validated topic by the counting writer (each is retried).",
)
