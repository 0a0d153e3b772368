"""Options and markers of the whole test suite (pytest reads them from this, the conftest
at the root of `testpaths`, whichever tests are selected)."""

from __future__ import annotations

import pytest

BROKERS = ("tansu", "kafka")


# Modules that take longest, first. The suite runs in two processes (`-n 2 --dist loadfile`
# in pyproject.toml: a module, with its broker, stays in one process); a long module handed
# out last would leave one process idle while the other finishes it. Measured per module
# on both brokers (docs/brokers.md, "What runs where, and how long"); the rest keep their order.
SLOW_FIRST = (
    "test_pipeline.py", "test_batched.py", "test_completeness.py", "test_outages.py",
    "test_cli.py", "test_poison.py", "test_benchmarks.py", "test_report_browser.py",
    "test_apache_kafka.py", "test_up_stop.py", "test_send.py", "test_live_reads.py",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--broker", choices=(*BROKERS, "both"), default="both",
        help="broker of the integration tests: both (the default: every integration test on "
             "Tansu and on Apache Kafka from `tahawul broker fetch`, as CI runs them), tansu "
             "(the embedded default broker: quicker while working on one test) or kafka; tests "
             "marked both_brokers run on both whatever this says")


@pytest.hookimpl(trylast=True)  # after pytest groups a module's tests by broker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slowest modules first (SLOW_FIRST), the others after in collection order; within a
    module the order is pytest's (a stable sort)."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_brokers: an exactness proof that runs on Tansu and on Apache Kafka in "
                   "every run (the broker fixture is parametrized with both)")
    config.addinivalue_line(
        "markers", "tansu_only(reason): runs on Tansu only, whatever --broker says, because "
                   "what it shows cannot happen on Apache Kafka (the reason says why; "
                   "docs/brokers.md lists them)")


def brokers_for(config: pytest.Config, marked_both: bool) -> list[str]:
    """The brokers a test runs on: both if it is marked both_brokers, else those --broker names."""
    chosen = str(config.getoption("--broker"))
    if marked_both or chosen == "both":
        return list(BROKERS)
    return [chosen]
