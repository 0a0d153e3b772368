"""The exchange views on the platform's full history: ``python -m benchmarks.exchange_queries``.

    python -m benchmarks.exchange_queries run --store /tmp/xbench [--repeat 3] [--fraction 1]
    python -m benchmarks.exchange_queries generate --store /tmp/xbench [--fraction 1]

The national integration platform has exchanged about 1.4 billion data items since 2017
([003]). At the 250 items an exchange of the ``exchanges-2024`` profile (ours, docs/
exchanges.md) that is 5.6 million exchanges, 11.2 million halves. ``generate`` makes a
store of that size without the pipeline (which would measure the pipeline, not the
queries), straight into the tables the counting writer fills (migration 017):

- ``exchange_counts_minute``: one row per exchange (each exchange's own minute cell: at
  two exchanges a minute on average, cells hardly ever share a minute), and for the 5 %
  of exchanges whose consumer half was counted in an earlier batch than the provider's,
  the two correction rows the writer adds (-1 on the consumer's basis, +1 on the
  provider's): 6.2 million rows;
- ``exchange_quality_minute``: the unmatched (0.4 %) and mismatched (0.1 %) halves;
- ``exchanges`` (the raw halves, for the store's size; no view reads it): 11.2 million rows.

Every row is drawn by a seeded hash of its number through lookup arrays built from the
profile: years growing from 2017 to January-November 2024 (2024 carries the published
471 million items), weekdays, hours, the pair graph and products, log-normal item counts,
1.5 % failures. Totals are proportional, not exact (``run`` prints them).

``run`` times each view the way the dashboards and the report ask it (the whole history
for the per-period views, January-November 2024 for the per-party ones) and prints rows,
the cold time, the best of the repeats and the best CPU time (chDB runs in this process, so
the process's CPU time is the query's over all its threads: on a machine other work keeps
busy, the wall times grow and the CPU time does not). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from statistics import NormalDist
from typing import Any

from clickhouse_connect.driver.client import Client

from tahawul.producers.simulator.apportion import largest_remainder
from tahawul.producers.simulator.exchanges import (
    HOUR_WEIGHTS,
    ITEMS_SIGMA,
    WEEKDAY_WEIGHTS,
    get_exchange_profile,
    pair_weights,
    products_of,
)
from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.store import Store

LUT = 65_536
HISTORY_ITEMS = 1_400_000_000
MEAN_ITEMS = 250
# Items per year (millions): the platform's growth since 2017 is ours; January-November
# 2024 is the published 471.2 million and the whole is the published "about 1.4 billion".
YEAR_ITEMS_M = {2017: 20, 2018: 45, 2019: 80, 2020: 130, 2021: 170, 2022: 220, 2023: 264, 2024: 471}
CORRECTED_PER_MILLE = 50
UNMATCHED_PER_MILLE = 4
MISMATCHED_PER_MILLE = 1
FAILED_PER_MILLE = 15
LAST_DAY = date(2024, 11, 30)

SPAN_2024 = "first_day = '2024-01-01', last_day = '2024-11-30'"
ALL = "first_day = '2017-01-01', last_day = '2024-11-30'"
QUERIES: tuple[tuple[str, str], ...] = (
    ("v_exchanges_yearly", "SELECT * FROM v_exchanges_yearly"),
    ("v_exchanges_monthly", "SELECT * FROM v_exchanges_monthly"),
    ("v_exchanges_daily", "SELECT * FROM v_exchanges_daily"),
    ("v_exchanges_daily (2024)", "SELECT * FROM v_exchanges_daily WHERE day >= '2024-01-01'"),
    ("v_exchange_totals_between (history)", f"SELECT * FROM v_exchange_totals_between({ALL})"),
    ("v_exchange_totals_between (2024)", f"SELECT * FROM v_exchange_totals_between({SPAN_2024})"),
    ("v_exchange_providers_between (2024)", f"SELECT * FROM v_exchange_providers_between({SPAN_2024})"),
    ("v_exchange_consumers_between (2024)", f"SELECT * FROM v_exchange_consumers_between({SPAN_2024})"),
    ("v_exchange_pairs_between (2024)", f"SELECT * FROM v_exchange_pairs_between({SPAN_2024})"),
    ("v_exchange_pairs_between (history)", f"SELECT * FROM v_exchange_pairs_between({ALL})"),
    ("v_exchange_products_between (2024)", f"SELECT * FROM v_exchange_products_between({SPAN_2024})"),
    ("v_exchange_outcomes_between (2024)", f"SELECT * FROM v_exchange_outcomes_between({SPAN_2024})"),
    ("v_exchange_cells_daily (Nov 2024)",
     "SELECT * FROM v_exchange_cells_daily WHERE day BETWEEN '2024-11-01' AND '2024-11-30'"),
    ("v_exchange_quality_daily (2024)", "SELECT * FROM v_exchange_quality_daily WHERE day >= '2024-01-01'"),
    ("v_exchange_quality_between (2024)", f"SELECT * FROM v_exchange_quality_between({SPAN_2024})"),
)


def lut(weights: Sequence[float], size: int = LUT) -> list[int]:
    """``size`` slots holding each index in proportion to its weight (largest remainder)."""
    parts = largest_remainder(size, [round(w * 10**9) for w in weights])
    return [i for i, n in enumerate(parts) for _ in range(n)]


def _arr(values: Sequence[Any]) -> str:
    return "[" + ",".join(repr(v) if isinstance(v, str) else str(v) for v in values) + "]"


def _days() -> tuple[list[int], list[float]]:
    """Every day 2017-01-01 .. 2024-11-30 (as days after 2017-01-01) and its weight: the
    year's items spread over its days by weekday."""
    first = date(2017, 1, 1)
    days, weights = [], []
    for year, items in YEAR_ITEMS_M.items():
        last = LAST_DAY if year == 2024 else date(year, 12, 31)
        span = [date.fromordinal(d) for d in range(date(year, 1, 1).toordinal(), last.toordinal() + 1)]
        norm = sum(WEEKDAY_WEIGHTS[d.weekday()] for d in span)
        for d in span:
            days.append((d - first).days)
            weights.append(items * WEEKDAY_WEIGHTS[d.weekday()] / norm)
    return days, weights


def _item_sizes(slots: int = 4096) -> list[int]:
    """Log-normal item counts with the profile's sigma and a mean of MEAN_ITEMS, as
    quantiles (at least one item)."""
    mu = math.log(MEAN_ITEMS) - ITEMS_SIGMA**2 / 2
    dist = NormalDist(mu, ITEMS_SIGMA)
    return [max(1, round(math.exp(dist.inv_cdf((i + 0.5) / slots)))) for i in range(slots)]


def build_select(seed: int = 7) -> str:
    """The SELECT that turns ``number`` into one exchange (provider's figures)."""
    profile = get_exchange_profile("exchanges-2024")
    combos: list[tuple[str, str, str]] = []
    weights: list[float] = []
    for (provider, consumer), weight in pair_weights(profile):
        for k, product in enumerate(products_of(provider)):
            combos.append((provider, consumer, product))
            weights.append(weight / (k + 1))
    days, day_w = _days()
    sizes = _item_sizes()
    errors = ("timeout", "provider_error", "unauthorized", "not_found", "invalid_request", "platform_error")

    def h(k: int, mod: int) -> str:
        return f"(sipHash64({seed}, number, {k}) % {mod})"

    return f"""
WITH
    {_arr(lut(weights))} AS combo_lut,
    {_arr([c[0] for c in combos])} AS c_provider,
    {_arr([c[1] for c in combos])} AS c_consumer,
    {_arr([c[2] for c in combos])} AS c_product,
    {_arr([days[i] for i in lut(day_w)])} AS day_lut,
    {_arr(lut(HOUR_WEIGHTS, 1024))} AS hour_lut,
    {_arr(sizes)} AS size_lut,
    {_arr(errors)} AS error_code,
    1 + combo_lut[1 + {h(1, LUT)}] AS c,
    toInt64(day_lut[1 + {h(2, LUT)}]) * 86400 + hour_lut[1 + {h(3, 1024)}] * 3600 + {h(4, 3600)}
        AS local_s,
    toDateTime(toInt64(toUnixTimestamp(toDateTime('2017-01-01 00:00:00', 'UTC'))) - 14400 + local_s,
               'UTC') AS at,
    {h(5, 1000)} < {FAILED_PER_MILLE} AS failed
SELECT
    generateUUIDv4(number) AS exchange_id,
    at,
    c_provider[c] AS provider,
    c_consumer[c] AS consumer,
    c_product[c] AS product,
    if(failed, error_code[1 + {h(6, len(errors))}], 'success') AS outcome,
    toInt64(if(failed, 1 + {h(7, 50)}, size_lut[1 + {h(8, len(sizes))}])) AS items,
    {h(9, 1000)} AS fate
FROM numbers({{start:UInt64}}, {{rows:UInt64}})
"""


def generate(client: Client, exchanges: int, seed: int = 7, chunk: int = 2_000_000,
             progress: Any = None) -> None:
    """Fill the counted aggregates and the raw halves with ``exchanges`` exchanges."""
    select = build_select(seed)
    settings = {"max_query_size": 16_000_000, "max_execution_time": 0}
    start = 0
    counts = ("INSERT INTO exchange_counts_minute (minute, provider, consumer, product, outcome, basis, "
              "exchanges, items, src_cluster, src_topic, src_partition, src_offset) "
              "SELECT toStartOfMinute(at), provider, consumer, product, outcome, b.1, b.2, b.2 * items, "
              "'benchmark', 'tahawul.exchanges', 0, 0 FROM ({select}) "
              f"ARRAY JOIN if(fate < {CORRECTED_PER_MILLE}, "
              "[('consumer', toInt64(1)), ('consumer', toInt64(-1)), ('provider', toInt64(1))], "
              "[('provider', toInt64(1))]) AS b")
    quality = ("INSERT INTO exchange_quality_minute (minute, provider, consumer, product, status, halves, "
               "items, src_cluster, src_topic, src_partition, src_offset) "
               "SELECT toStartOfMinute(at), provider, consumer, product, "
               f"multiIf(fate < {CORRECTED_PER_MILLE + UNMATCHED_PER_MILLE * 3 // 4}, 'unmatched_consumer', "
               f"fate < {CORRECTED_PER_MILLE + UNMATCHED_PER_MILLE}, 'unmatched_provider', 'mismatched'), "
               "1, if(fate < 54, items, -1), 'benchmark', 'tahawul.exchanges', 0, 0 FROM ({select}) "
               f"WHERE fate >= {CORRECTED_PER_MILLE} "
               f"AND fate < {CORRECTED_PER_MILLE + UNMATCHED_PER_MILLE + MISMATCHED_PER_MILLE}")
    raw = ("INSERT INTO exchanges (exchange_id, side, provider, consumer, product, items, outcome, "
           "occurred_at, fingerprint, src_cluster, src_topic, src_partition, src_offset, ingested_at) "
           "SELECT exchange_id, side, provider, consumer, product, toUInt32(items), outcome, "
           "toDateTime64(at, 3, 'UTC'), sipHash64(exchange_id, side), 'benchmark', 'tahawul.exchanges', "
           "0, 0, "
           "toDateTime64(at, 3, 'UTC') + 2 FROM ({select}) ARRAY JOIN ['provider', 'consumer'] AS side")
    while start < exchanges:
        n = min(chunk, exchanges - start)
        for sql in (counts, quality, raw):
            client.command(sql.format(select=select), parameters={"start": start, "rows": n},
                           settings=settings)
        start += n
        if progress is not None:
            progress(start)


def cmd_generate(args: argparse.Namespace) -> int:
    exchanges = round(HISTORY_ITEMS * args.fraction / MEAN_ITEMS)
    client = connect(f"chdb://{Path(args.store).resolve()}")
    try:
        Store(client, "benchmark").migrate()
        started = time.perf_counter()
        generate(client, exchanges, seed=args.seed, chunk=args.chunk,
                 progress=lambda n: print(f"  {n:,} exchanges  {time.perf_counter() - started:.0f} s",
                                          flush=True))
        print(f"inserted in {time.perf_counter() - started:.0f} s; merging parts", flush=True)
        for table in ("exchange_counts_minute", "exchange_quality_minute", "exchanges"):
            client.command(f"OPTIMIZE TABLE {table} FINAL", settings={"max_execution_time": 0})
        print(f"done in {time.perf_counter() - started:.0f} s", flush=True)
        _sizes(client)
    finally:
        client.close()
    return 0


def _sizes(client: Client) -> None:
    for table, rows, parts, size in client.query(
            "SELECT table, sum(rows), count(), formatReadableSize(sum(bytes_on_disk)) FROM system.parts "
            "WHERE active AND database = currentDatabase() AND table LIKE 'exchange%' "
            "GROUP BY table ORDER BY table").result_rows:
        print(f"  {table:26} {rows:>13,} rows {parts:>4} parts {size:>10}")


def cmd_run(args: argparse.Namespace) -> int:
    if not Path(args.store).exists():
        print(f"{args.store} does not exist: generating it first", flush=True)
        if cmd_generate(args):
            return 1
    client = connect(f"chdb://{Path(args.store).resolve()}")
    try:
        _sizes(client)
        totals = client.query(f"SELECT exchanges, items, providers, consumers FROM "
                              f"v_exchange_totals_between({ALL})").result_rows[0]
        print(f"history: {totals[0]:,} exchanges, {totals[1]:,} items, {totals[2]} providers, "
              f"{totals[3]} consumers\n")
        print(f"{'view':42} {'rows':>9} {'cold s':>8} {'best s':>8} {'cpu s':>8}")
        print(f"{'-' * 42} {'-' * 9} {'-' * 8} {'-' * 8} {'-' * 8}")
        for name, sql in QUERIES:
            times, cpu = [], []
            rows = 0
            for _ in range(args.repeat):
                started, used = time.perf_counter(), time.process_time()
                rows = client.query_arrow(sql).num_rows
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - used)
            print(f"{name:42} {rows:>9,} {times[0]:>8.3f} {min(times):>8.3f} {min(cpu):>8.3f}", flush=True)
    finally:
        client.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.exchange_queries", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("generate", "run"):
        p = sub.add_parser(name)
        p.add_argument("--store", required=True, help="chDB store directory")
        p.add_argument("--fraction", type=float, default=1.0,
                       help="share of the 1.4 billion items' history to generate (default 1)")
        p.add_argument("--seed", type=int, default=7)
        p.add_argument("--chunk", type=int, default=2_000_000, help="exchanges per INSERT")
        if name == "run":
            p.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    return cmd_generate(args) if args.command == "generate" else cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
