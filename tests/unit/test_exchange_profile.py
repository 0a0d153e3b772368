"""The 2024 exchange profile: the published totals exactly at any scale, 40/81 active
parties, determinism by seed, halves valid under the contract, and `audit published`
reproducing the figures from a store holding what the truth says a correct pipeline counts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from tahawul.producers.simulator.exchanges import (
    CONSUMER_ONLY_RATE,
    ERROR_RATE,
    ExchangeTruth,
    get_exchange_profile,
    iter_exchanges,
    plan_exchanges,
)
from tahawul.schemas.exchange import validate
from tahawul.schemas.published import figure
from tahawul.schemas.reference import load_catalogue
from tahawul.sinks.clickhouse.published import audit_published
from tahawul.sinks.clickhouse.store import Store

PROFILE = "exchanges-2024"
ITEMS_2024 = 471_193_222


def _truth(scale: float, seed: int = 3) -> tuple[ExchangeTruth, Counter[tuple[str, str]]]:
    truth, kinds = ExchangeTruth(), Counter[tuple[str, str]]()
    for half in iter_exchanges(PROFILE, scale, seed):
        truth.add(half)
        kinds[(half.kind, half.side)] += 1
    return truth, kinds


def test_scale_one_plans_the_published_items_exactly() -> None:
    plans = plan_exchanges(get_exchange_profile(PROFILE), 1)
    assert sum(p.items for p in plans) == ITEMS_2024 == figure("integration-data-items-2024-jan-nov").value
    assert plans[0].day.isoformat() == "2024-01-01" and plans[-1].day.isoformat() == "2024-11-30"
    exchanges = sum(p.exchanges for p in plans)
    assert 1_880_000 < exchanges < 1_890_000  # 250 items an exchange on average (ours)


@pytest.mark.parametrize(("scale", "items"), [(0.001, 471_193), (0.0001, 47_119), (0.00123, 579_568)])
def test_items_are_the_figure_scaled_and_rounded_half_up_with_40_providers_and_81_consumers(
        scale: float, items: int) -> None:
    truth, _ = _truth(scale)
    assert truth.items() == items
    assert truth.active() == (40, 81)


def test_halves_are_valid_mostly_paired_and_deterministic_by_seed() -> None:
    catalogue, now = load_catalogue(), datetime(2025, 1, 1, tzinfo=UTC)
    first = list(iter_exchanges(PROFILE, 0.001, 11))
    assert first == list(iter_exchanges(PROFILE, 0.001, 11))
    assert first != list(iter_exchanges(PROFILE, 0.001, 12))
    for half in first:
        parsed = validate(orjson.loads(half.data), catalogue, now=now)
        assert half.signer == parsed.reporter and half.side == parsed.side
    times = [orjson.loads(h.data)["occurred_at"] for h in first]
    assert times == sorted(times)  # one day at a time, in occurred_at order (same offset)
    truth, kinds = _truth(0.01)
    paired = kinds[("paired", "provider")]
    assert paired == kinds[("paired", "consumer")]
    unmatched = kinds[("unmatched", "provider")] + kinds[("unmatched", "consumer")]
    assert truth.exchanges == paired + unmatched
    assert 0.002 < unmatched / truth.exchanges < 0.008
    assert kinds[("unmatched", "consumer")] > kinds[("unmatched", "provider")] > 0
    failed = sum(c[0] for k, c in truth.counts().items() if k[4] != "success")
    assert abs(failed / truth.exchanges - ERROR_RATE) < 0.005
    assert CONSUMER_ONLY_RATE < 0.01


def test_a_few_pairs_carry_most_items() -> None:
    truth, _ = _truth(0.01)
    by_pair = Counter[tuple[str, str]]()
    for (_, provider, consumer, _, outcome), (_, items) in truth.counts().items():
        if outcome == "success":
            by_pair[(provider, consumer)] += items
    top = sum(v for _, v in by_pair.most_common(10))
    assert len(by_pair) > 300 and top / sum(by_pair.values()) > 0.3


def test_too_small_a_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        plan_exchanges(get_exchange_profile(PROFILE), 0.0000001)
    with pytest.raises(ValueError, match="unknown exchange profile"):
        iter_exchanges("exchanges-1999", 0.01, 1)


def test_truth_file_lists_the_counts(tmp_path: Path) -> None:
    truth, _ = _truth(0.0001)
    out = tmp_path / "truth.csv"
    truth.write_csv(out)
    lines = out.read_text().splitlines()
    assert lines[0] == "day,provider,consumer,product,outcome,exchanges,items"
    rows = [line.split(",") for line in lines[1:]]
    assert sum(int(r[6]) for r in rows if r[4] == "success") == 47_119
    assert sum(int(r[5]) for r in rows) == truth.exchanges


def test_audit_published_reproduces_the_platform_figures_from_the_counted_store(store: Store) -> None:
    """What the counting writer stores for a run (one row per truth cell, at the Muscat
    day's noon) is audited exactly: items at the scale, 40 and 81 unscaled."""
    scale = 0.0001
    truth, _ = _truth(scale)
    rows: list[list[Any]] = []
    for n, ((day, provider, consumer, product, outcome), (exchanges, items)) in enumerate(
            sorted(truth.counts().items())):
        minute = datetime.fromisoformat(day).replace(hour=8, tzinfo=UTC)  # 12:00 in Muscat
        rows.append([minute, provider, consumer, product, outcome, "provider", exchanges, items,
                     "c", "t", 0, n])
    store.client.insert("exchange_counts_minute", rows, column_names=[
        "minute", "provider", "consumer", "product", "outcome", "basis", "exchanges", "items",
        "src_cluster", "src_topic", "src_partition", "src_offset"])
    result = audit_published(store.client, Decimal(str(scale)))
    checked = {c.figure.figure: c for c in result.checked}
    assert str(result.exchange_first_day) == "2024-01-01" and str(result.exchange_last_day) == "2024-11-30"
    held = checked["integration-data-items-2024-jan-nov"]
    assert (held.published, held.counted, held.within) == (47_119, 47_119, True)
    assert checked["integration-providers-2024"].counted == 40
    assert checked["integration-consumers-2024"].counted == 81
    assert not result.differences
    # The since-launch figure's period (from 2017) is not held by a 2024 store.
    assert "integration-data-items-since-launch" in {f.figure for f in result.not_held}
    # One item less is a difference.
    success = next(r for r in rows if r[4] == "success")
    store.client.insert("exchange_counts_minute", [[success[0] + timedelta(minutes=1), *success[1:6], 0, -1,
                                                    "c", "t", 0, len(rows)]],
                        column_names=["minute", "provider", "consumer", "product", "outcome", "basis",
                                      "exchanges", "items", "src_cluster", "src_topic", "src_partition",
                                      "src_offset"])
    again = {c.figure.figure: c for c in audit_published(store.client, Decimal(str(scale))).checked}
    assert again["integration-data-items-2024-jan-nov"].difference == -1


def test_simulate_writes_the_halves_and_their_truth(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from tahawul.cli.main import main

    out, truth = tmp_path / "halves.jsonl", tmp_path / "truth.csv"
    assert main(["simulate", "--profile", PROFILE, "--scale", "0.0001", "--out", str(out),
                 "--truth", str(truth)]) == 0
    assert "47,119 items of successful exchanges, 40 providers, 81 consumers" in capsys.readouterr().out
    assert len(out.read_bytes().splitlines()) == sum(1 for _ in iter_exchanges(PROFILE, 0.0001, 7))
    rows = [line.split(",") for line in truth.read_text().splitlines()[1:]]
    assert sum(int(r[6]) for r in rows if r[4] == "success") == 47_119
    assert main(["simulate", "--profile", PROFILE, "--scale", "0.0000001", "--out", str(out),
                 "--truth", str(truth)]) == 2
    assert "too small" in capsys.readouterr().err
