"""The steady-state window the benchmarks judge scale-out by (benchmarks/common.py)."""

from __future__ import annotations

import pytest

from benchmarks.common import merge_histories, steady_or_overall, table, window_rate


def test_window_rate_leaves_out_start_up_and_tail() -> None:
    # 2 s of start-up with nothing, then 100 events/s for 10 s, then a slow tail.
    history = [(0.0, 0), (2.0, 0)] + [(2.0 + s, 100 * s) for s in range(1, 11)] + [(20.0, 1_010)]
    assert window_rate(history, 1_010) == pytest.approx(100.0)


def test_window_rate_uses_the_counts_at_the_crossings() -> None:
    history = [(1.0, 50), (2.0, 250), (3.0, 950), (4.0, 1_000)]
    # 10% of 1,000 is first reached at t=2 (250), 90% at t=3 (950): 700 events in 1 s.
    assert window_rate(history, 1_000) == pytest.approx(700.0)


def test_window_rate_refuses_too_few_samples() -> None:
    with pytest.raises(ValueError, match="not enough progress samples"):
        window_rate([(1.0, 1_000)], 1_000)
    with pytest.raises(ValueError, match="not enough progress samples"):
        window_rate([(1.0, 50)], 1_000)


def test_merge_histories_sums_the_latest_count_of_each_process() -> None:
    a = [(1.0, 10), (3.0, 30)]
    b = [(2.0, 5), (4.0, 25)]
    assert merge_histories([a, b]) == [(1.0, 10), (2.0, 15), (3.0, 35), (4.0, 55)]


def test_table_aligns_and_formats() -> None:
    text = table(["path", "events/s"], [["bare", 241_454.4], ["ratio", 0.97], ["none", None]])
    assert text.splitlines() == [
        "path   events/s",
        "-----  --------",
        "bare    241,454",
        "ratio      0.97",
        "none",
    ]


def test_a_run_too_short_for_a_window_says_so_and_uses_the_overall_rate(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert steady_or_overall([(1.0, 1_000)], 1_000, 123.0) == 123.0
    assert "no steady window, first event to last used" in capsys.readouterr().out
    assert steady_or_overall([(1.0, 100), (2.0, 900)], 1_000, 123.0) == pytest.approx(800.0)
