"""The README's main command and the CLI, run as a user runs them (subprocesses)."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tahawul.keyring import dev_private_dir, ensure_dev_keys
from tahawul.runtime.broker import EmbeddedBroker, free_port
from tahawul.sinks.clickhouse.connection import connect
from tests.integration.conftest import REPO

pytestmark = pytest.mark.integration


def tahawul(*args: str, data_dir: Path, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TAHAWUL_")}
    full_env.update({"TAHAWUL_DATA_DIR": str(data_dir), "TAHAWUL_SESSION_TIMEOUT": "3", **env})
    return subprocess.run([sys.executable, "-m", "tahawul", *args], env=full_env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def digital_of(stdout: str, name: str, code: str) -> str:
    """The digital column of the totals row `<name> <code> <digital> <manual> <share>`."""
    line = next(ln for ln in stdout.splitlines() if ln.startswith(name + " "))
    tokens = line[len(name):].split()
    assert tokens[0] == code
    return tokens[1]


def test_up_simulate_reproduces_published_h1_figures(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = tahawul("up", "--simulate", "oman-2025-h1", "--scale", "0.01", "--exit-when-done",
                   data_dir=data)
    assert done.returncode == 0, done.stderr
    assert "with seed 7" in done.stderr  # a run can be repeated byte for byte
    assert digital_of(done.stdout, "North Al Batinah", "OM-BS") == "965"
    assert digital_of(done.stdout, "Ad Dhahirah", "OM-ZA") == "139"
    # The same figures straight from the published view.
    q = tahawul("sql", "SELECT governorate, sum(transactions) AS digital FROM v_counts_daily "
                "WHERE mode = 'digital' AND day BETWEEN '2025-01-01' AND '2025-06-30' "
                "AND governorate IN ('OM-BS', 'OM-ZA') GROUP BY governorate ORDER BY governorate",
                "--format", "csv", data_dir=data)
    assert q.returncode == 0, q.stderr
    assert q.stdout.splitlines() == ["governorate,digital", "OM-BS,965", "OM-ZA,139"]


def read_truth(path: Path) -> dict[tuple[str, ...], int]:
    with path.open() as fh:
        return {(r["day"], r["governorate"], r["entity"], r["service"], r["channel"], r["mode"]):
                int(r["transactions"]) for r in csv.DictReader(fh)}


def published(data: Path) -> dict[tuple[str, ...], int]:
    client = connect(f"chdb://{data / 'clickhouse'}")
    try:
        rows = client.query("SELECT toString(day), governorate, entity, service, channel, mode, "
                            "transactions FROM v_counts_daily WHERE transactions > 0").result_rows
        extra = client.query("SELECT (SELECT count() FROM rejected), (SELECT count() FROM duplicates)"
                             ).result_rows[0]
    finally:
        client.close()
    return {**{tuple(r[:6]): int(r[6]) for r in rows}, ("rejected",): extra[0], ("duplicates",): extra[1]}


def test_up_input_equals_truth_and_rerun_counts_nothing_twice(tmp_path: Path) -> None:
    data = tmp_path / "data"
    events, truth = tmp_path / "events.jsonl", tmp_path / "truth.csv"
    sim = tahawul("simulate", "--profile", "oman-2025-h1", "--scale", "0.01", "--seed", "7",
                  "--out", str(events), "--truth", str(truth), "--duplicates", "0.03",
                  "--invalid", "0.03", data_dir=data)
    assert sim.returncode == 0, sim.stderr
    n_valid, n_dup, n_bad = map(int, re.search(
        r"\((\d+) valid, (\d+) duplicates, (\d+) invalid\)", sim.stdout).groups())  # type: ignore[union-attr]

    first = tahawul("up", "--input", str(events), "--exit-when-done", data_dir=data)
    # Everything valid is counted, and the run says it rejected lines: exit 1, as documented.
    assert first.returncode == 1, first.stderr
    assert f"{n_bad} line(s) of {events} rejected" in first.stderr
    assert re.search(r"events\.jsonl:\d+: rejected \(\w+\): ", first.stderr)  # line numbers reported
    after_first = published(data)
    expected = read_truth(truth)
    assert {k: v for k, v in after_first.items() if len(k) == 6} == expected
    assert after_first[("rejected",)] == n_bad
    assert after_first[("duplicates",)] == n_dup

    again = tahawul("up", "--input", str(events), "--exit-when-done", data_dir=data)
    assert again.returncode == 1, again.stderr
    after_again = published(data)
    assert {k: v for k, v in after_again.items() if len(k) == 6} == expected
    # Every valid line of the second run was recognised as already counted.
    assert after_again[("duplicates",)] == n_dup + n_valid + n_dup
    assert after_again[("rejected",)] == 2 * n_bad


def test_up_uses_the_configured_cluster(broker: EmbeddedBroker, tmp_path: Path) -> None:
    events, truth = tmp_path / "events.jsonl", tmp_path / "truth.csv"
    data = tmp_path / "data"
    assert tahawul("simulate", "--scale", "0.002", "--out", str(events), "--truth", str(truth),
                   data_dir=data).returncode == 0
    # A named broker gets no dev keys: its workers need a trust file, and up says so first.
    refused = tahawul("up", "--input", str(events), "--exit-when-done", data_dir=data,
                      TAHAWUL_KAFKA_URL=f"kafka://{broker.bootstrap}")
    assert refused.returncode == 2 and "TAHAWUL_SIGNING_TRUST" in refused.stderr, refused.stderr
    trust = ensure_dev_keys(tmp_path / "keys")  # as `tahawul credentials signing-key` would
    done = tahawul("up", "--input", str(events), "--exit-when-done", data_dir=data,
                   TAHAWUL_KAFKA_URL=f"kafka://{broker.bootstrap}",
                   TAHAWUL_SIGNING_TRUST=str(trust),
                   TAHAWUL_SIGNING_KEYS=str(dev_private_dir(tmp_path / "keys")))
    assert done.returncode == 0, done.stderr
    assert "embedded broker" not in done.stderr
    assert {k: v for k, v in published(data).items() if len(k) == 6} == read_truth(truth)


def test_sql_formats(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert tahawul("db", "migrate", data_dir=data).returncode == 0
    as_json = tahawul("sql", "SELECT 1 AS one, 'مسقط' AS name", "--format", "json", data_dir=data)
    assert json.loads(as_json.stdout) == {"one": 1, "name": "مسقط"}
    table = tahawul("sql", "SELECT count() AS n FROM events", data_dir=data)
    assert table.stdout.splitlines()[0].strip() == "n" and "(1 rows)" in table.stdout
    bad = tahawul("sql", "SELECT nope FROM nowhere", data_dir=data)
    assert bad.returncode == 1 and "query failed" in bad.stderr
    assert "FORMAT Native" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_unreachable_broker_and_store_say_what_and_where(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    trust = ensure_dev_keys(tmp_path / "keys")  # past the trust check, to the broker
    no_broker = tahawul("up", "--exit-when-done", data_dir=tmp_path / "a", timeout=120,
                        TAHAWUL_KAFKA_URL=f"kafka://127.0.0.1:{port}",
                        TAHAWUL_SIGNING_TRUST=str(trust))
    assert no_broker.returncode == 69
    assert f"cannot reach Kafka at 127.0.0.1:{port}" in no_broker.stderr
    assert len(no_broker.stderr.strip().splitlines()) == 1, no_broker.stderr  # no client log lines
    no_store = tahawul("sql", "SELECT 1", data_dir=tmp_path / "b",
                       TAHAWUL_CLICKHOUSE_URL=f"http://default:secret@127.0.0.1:{port}/default")
    assert no_store.returncode == 69
    assert f"cannot reach ClickHouse at http://default:***@127.0.0.1:{port}/default" in no_store.stderr
    assert "secret" not in no_store.stderr


def test_missing_input_file_is_a_usage_error(tmp_path: Path) -> None:
    r = tahawul("up", "--input", str(tmp_path / "nope.jsonl"), data_dir=tmp_path / "d")
    assert r.returncode == 2 and "input file not found" in r.stderr


def test_up_input_takes_csv_tallies_like_send(tmp_path: Path) -> None:
    """A CSV tally file is read as CSV (as `tahawul send` reads it), not as bad JSON lines."""
    tallies = tmp_path / "tallies.csv"
    tallies.write_text(
        "occurred_at,entity,service,governorate,channel,quantity\n"
        "2025-03-02,ROP,ROP-VEH-FIRST-REG,OM-BS,counter,40\n"
        "2025-03-02,ROP,ROP-VEH-FIRST-REG,OM-BS,portal,60\n"
        "2025-03-03,ROP,ROP-VEH-FIRST-REG,OM-BS,nowhere,5\n")
    data = tmp_path / "data"
    done = tahawul("up", "--input", str(tallies), "--exit-when-done", data_dir=data)
    assert done.returncode == 1, done.stderr  # the third row's channel is unknown
    assert re.search(r"tallies\.csv:4: rejected \(unknown_channel\)", done.stderr)
    q = tahawul("sql", "SELECT channel, sum(transactions) FROM v_counts_daily GROUP BY channel "
                "ORDER BY channel", "--format", "csv", data_dir=data)
    assert q.stdout.splitlines()[1:] == ["counter,40", "portal,60"]

