"""Options and markers of the whole test suite (pytest reads them from this, the conftest
at the root of `testpaths`, whichever tests are selected)."""

from __future__ import annotations

import pytest

BROKERS = ("tansu", "kafka")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--broker", choices=(*BROKERS, "both"), default="tansu",
        help="broker of the integration tests: tansu (the embedded default), kafka (Apache "
             "Kafka from `tahawul broker fetch`) or both; tests marked both_brokers run on both "
             "whatever this says")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_brokers: an exactness proof that runs on Tansu and on Apache Kafka in "
                   "every run (the broker fixture is parametrized with both)")


def brokers_for(config: pytest.Config, marked_both: bool) -> list[str]:
    """The brokers a test runs on: both if it is marked both_brokers, else those --broker names."""
    chosen = str(config.getoption("--broker"))
    if marked_both or chosen == "both":
        return list(BROKERS)
    return [chosen]
