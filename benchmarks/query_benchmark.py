"""Time every published view on a large store: ``python -m benchmarks.query_benchmark``.

    python -m benchmarks.query_benchmark run --store /tmp/bench [--repeat 3] [--rows 100000000]
    python -m benchmarks.query_benchmark generate --store /tmp/bench --rows 100000000

``run`` generates the store first when it does not exist yet (13 minutes and 3.4 GB for
100M rows here), so one command does it all; ``generate`` alone makes one to reuse.

``generate`` migrates a fresh embedded store and fills ``events`` with a year (2025) of
synthetic traffic shaped by the simulator profile (benchmarks/generate.py says how), then
waits for background merges so the table looks like one a server has been running with.
``run`` queries each published view the way a dashboard or the open-data export does (a
full year unless the view is about the last hours) and prints one line per view: rows
returned, the first (cold) time and the best of the repeats. The targets (what an
auditor or a dashboard waits for without noticing) are checked at the end: daily take-up
by governorate for a year under 1 s, the year's per-service table under 3 s. The baseline
of the same run is the raw scan: the take-up question answered from the raw rows without
the rollup projection; ``x scan`` is each view's best time as a ratio to it. Not part of
the test suite: it takes minutes and a big disk.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmarks.generate import generate
from tahawul.sinks.clickhouse.connection import connect
from tahawul.sinks.clickhouse.store import Store

YEAR = "period BETWEEN '2025-01-01' AND '2025-12-31'"
# (view, query). Each selects every column of the view for the year.
QUERIES: tuple[tuple[str, str], ...] = (
    ("v_transactions_hourly (January)", "SELECT * FROM v_transactions_hourly "
     "WHERE period >= toDateTime('2025-01-01', 'Asia/Muscat') "
     "AND period < toDateTime('2025-02-01', 'Asia/Muscat')"),
    ("v_transactions_daily", f"SELECT * FROM v_transactions_daily WHERE {YEAR}"),
    ("v_transactions_weekly", f"SELECT * FROM v_transactions_weekly WHERE {YEAR}"),
    ("v_transactions_monthly", f"SELECT * FROM v_transactions_monthly WHERE {YEAR}"),
    ("v_transactions_quarterly", f"SELECT * FROM v_transactions_quarterly WHERE {YEAR}"),
    ("v_transactions_yearly", f"SELECT * FROM v_transactions_yearly WHERE {YEAR}"),
    ("v_digital_takeup_governorate_daily", f"SELECT * FROM v_digital_takeup_governorate_daily WHERE {YEAR}"),
    ("v_digital_takeup_governorate_weekly",
     f"SELECT * FROM v_digital_takeup_governorate_weekly WHERE {YEAR}"),
    ("v_digital_takeup_governorate_monthly",
     f"SELECT * FROM v_digital_takeup_governorate_monthly WHERE {YEAR}"),
    ("v_digital_takeup_governorate_quarterly",
     f"SELECT * FROM v_digital_takeup_governorate_quarterly WHERE {YEAR}"),
    ("v_digital_takeup_governorate_yearly",
     f"SELECT * FROM v_digital_takeup_governorate_yearly WHERE {YEAR}"),
    ("v_digital_takeup_daily", f"SELECT * FROM v_digital_takeup_daily WHERE {YEAR}"),
    ("v_digital_takeup_weekly", f"SELECT * FROM v_digital_takeup_weekly WHERE {YEAR}"),
    ("v_digital_takeup_monthly", f"SELECT * FROM v_digital_takeup_monthly WHERE {YEAR}"),
    ("v_digital_takeup_quarterly", f"SELECT * FROM v_digital_takeup_quarterly WHERE {YEAR}"),
    ("v_digital_takeup_yearly", f"SELECT * FROM v_digital_takeup_yearly WHERE {YEAR}"),
    ("v_completion_rate_monthly", f"SELECT * FROM v_completion_rate_monthly WHERE {YEAR}"),
    ("v_completion_rate_yearly", f"SELECT * FROM v_completion_rate_yearly WHERE {YEAR}"),
    ("v_automated_share_monthly", f"SELECT * FROM v_automated_share_monthly WHERE {YEAR}"),
    ("v_automated_share_yearly", f"SELECT * FROM v_automated_share_yearly WHERE {YEAR}"),
    ("v_satisfaction_monthly", f"SELECT * FROM v_satisfaction_monthly WHERE {YEAR}"),
    ("v_satisfaction_yearly", f"SELECT * FROM v_satisfaction_yearly WHERE {YEAR}"),
    ("v_satisfaction_national_monthly", f"SELECT * FROM v_satisfaction_national_monthly WHERE {YEAR}"),
    ("v_satisfaction_national_yearly", f"SELECT * FROM v_satisfaction_national_yearly WHERE {YEAR}"),
    ("v_service_indicators_monthly", f"SELECT * FROM v_service_indicators_monthly WHERE {YEAR}"),
    ("v_service_indicators_yearly", f"SELECT * FROM v_service_indicators_yearly WHERE {YEAR}"),
    ("v_cost_per_transaction_monthly", f"SELECT * FROM v_cost_per_transaction_monthly WHERE {YEAR}"),
    ("v_cost_per_transaction_yearly", f"SELECT * FROM v_cost_per_transaction_yearly WHERE {YEAR}"),
    ("v_services_digitised_monthly", f"SELECT * FROM v_services_digitised_monthly WHERE {YEAR}"),
    ("v_services_digitised_yearly", f"SELECT * FROM v_services_digitised_yearly WHERE {YEAR}"),
    ("v_services_digitised_between (H1)",
     "SELECT * FROM v_services_digitised_between(first_day = '2025-01-01', last_day = '2025-06-30')"),
    ("v_coverage_services", "SELECT * FROM v_coverage_services"),
    ("v_coverage_entities", "SELECT * FROM v_coverage_entities"),
    ("v_restatements", f"SELECT * FROM v_restatements WHERE {YEAR}"),
    ("v_restatement_summary", f"SELECT * FROM v_restatement_summary WHERE {YEAR}"),
)
# The baseline, timed in the same run: daily digital and manual transactions by governorate
# for the year (what v_digital_takeup_governorate_daily answers) computed from the raw rows,
# with the rollup projection turned off. Each view's time is printed as a ratio to it.
BASELINE = ("raw scan: daily by governorate and mode",
            "SELECT toDate(occurred_at, 'Asia/Muscat') AS day, governorate, mode, sum(quantity) "
            "FROM events WHERE occurred_at >= toDateTime64('2025-01-01 00:00:00', 3, 'Asia/Muscat') "
            "AND occurred_at < toDateTime64('2026-01-01 00:00:00', 3, 'Asia/Muscat') "
            "AND status = 'completed' GROUP BY day, governorate, mode "
            "SETTINGS optimize_use_projections = 0")
TARGETS = {"v_digital_takeup_governorate_daily": 1.0, "v_service_indicators_yearly": 3.0}
# Unit costs for the cost views: one per digital and manual channel, from 1 January.
COSTS = {"portal": "0.450", "mobile_app": "0.300", "kiosk": "0.800", "api": "0.050",
         "assisted_digital": "1.500", "counter": "4.200", "paper": "6.000", "phone": "2.500"}


def cmd_generate(args: argparse.Namespace) -> int:
    client = connect(f"chdb://{Path(args.store).resolve()}")
    try:
        Store(client, "benchmark").migrate()
        started = time.perf_counter()
        generate(client, args.rows, seed=args.seed, chunk=args.chunk,
                 progress=lambda n: print(f"  {n:,} rows  {time.perf_counter() - started:.0f} s", flush=True))
        client.command(
            "INSERT INTO unit_costs (service, channel, effective_from, cost_omr, recorded_by) "
            "SELECT s.code, c.code, toDate('2025-01-01'), toDecimal32(c.cost, 3), 'benchmark' "
            "FROM ref_services AS s "
            f"CROSS JOIN (SELECT arrayJoin({sorted(COSTS.items())!r}) AS p, p.1 AS code, p.2 AS cost) AS c"
        )
        print(f"inserted in {time.perf_counter() - started:.0f} s; merging parts", flush=True)
        client.command("OPTIMIZE TABLE events FINAL", settings={"max_execution_time": 0})
        parts = client.query("SELECT count(), sum(rows) FROM system.parts WHERE table = 'events' AND active "
                             "AND database = currentDatabase()").result_rows[0]
        print(f"done in {time.perf_counter() - started:.0f} s: {parts[1]:,} rows in {parts[0]} parts")
    finally:
        client.close()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    if not Path(args.store).exists():
        print(f"{args.store} does not exist: generating {args.rows:,} rows first", flush=True)
        if cmd_generate(args):
            return 1
    client = connect(f"chdb://{Path(args.store).resolve()}")
    try:
        total = client.query("SELECT count() FROM events").result_rows[0][0]
        print(f"events: {total:,} rows\n")
        print(f"{'view':42} {'rows':>9} {'cold s':>8} {'best s':>8} {'x scan':>7}")
        print(f"{'-' * 42} {'-' * 9} {'-' * 8} {'-' * 8} {'-' * 7}")
        failed = []
        scan = 0.0
        for name, sql in (BASELINE, *QUERIES):
            times = []
            rows = 0
            for _ in range(args.repeat):
                started = time.perf_counter()
                rows = client.query_arrow(sql).num_rows
                times.append(time.perf_counter() - started)
            best = min(times)
            scan = scan or best
            limit = TARGETS.get(name)
            verdict = "ok" if limit is None or best < limit else "MISSED"
            mark = "" if limit is None else f"  target < {limit:g} s: {verdict}"
            if limit is not None and best >= limit:
                failed.append(name)
            print(f"{name:42} {rows:>9,} {times[0]:>8.3f} {best:>8.3f} {best / scan:>7.2f}{mark}", flush=True)
    finally:
        client.close()
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="query_benchmark", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="fill a fresh embedded store with synthetic events")
    gen.add_argument("--store", required=True)
    gen.add_argument("--rows", type=int, default=100_000_000)
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--chunk", type=int, default=10_000_000)
    gen.set_defaults(handler=cmd_generate)
    run = sub.add_parser("run", help="time each published view")
    run.add_argument("--store", required=True)
    run.add_argument("--repeat", type=int, default=3)
    run.add_argument("--rows", type=int, default=100_000_000,
                     help="rows to generate first when --store does not exist yet (default 100,000,000)")
    run.add_argument("--seed", type=int, default=7)
    run.add_argument("--chunk", type=int, default=10_000_000)
    run.set_defaults(handler=cmd_run)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
