"""The read front's statement check, its ClickHouse error mapping, the events/s of the live
view, and the live page's markup: no servers (the integration side is test_live_reads)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from tahawul.cli.console import LiveView
from tahawul.report.live import live_page, live_state
from tahawul.runtime.local import Run
from tahawul.runtime.rates import EventRate
from tahawul.sinks.clickhouse.read_front import (
    FrontRecord,
    Refused,
    _engine_error,
    read_record,
    read_statement,
    record_path,
    remove_record,
    write_record,
)


@pytest.mark.parametrize(("sql", "fmt"), [
    ("SELECT count() FROM events", "TabSeparated"),
    ("  select 1\n FORMAT Native", "Native"),
    ("(SELECT 1) UNION ALL (SELECT 2)", "TabSeparated"),
    ("WITH x AS (SELECT 1) SELECT * FROM x FORMAT JSONEachRow;", "JSONEachRow"),
    ("-- a comment\nSHOW TABLES", "TabSeparated"),
    ("/* c */ DESCRIBE TABLE events", "TabSeparated"),
    ("DESC events", "TabSeparated"),
    ("EXISTS TABLE events", "TabSeparated"),
    ("EXPLAIN SELECT 1", "TabSeparated"),
    ("SELECT 'a;b', 'DROP TABLE x; --' FROM events", "TabSeparated"),
    ("SELECT 'it''s' AS s", "TabSeparated"),
    ("SELECT `FORMAT` FROM t", "TabSeparated"),
])
def test_one_read_runs_with_the_format_it_asks_for(sql: str, fmt: str) -> None:
    assert read_statement(sql).format == fmt


@pytest.mark.parametrize(("sql", "code"), [
    ("INSERT INTO events VALUES (1)", 164),
    ("insert into events select * from events", 164),
    ("DROP TABLE events", 164),
    ("ALTER TABLE events DELETE WHERE 1", 164),
    ("TRUNCATE events", 164),
    ("DELETE FROM events WHERE 1", 164),
    ("OPTIMIZE TABLE events FINAL", 164),
    ("SYSTEM STOP MERGES", 164),
    ("SET readonly = 0", 164),
    ("KILL QUERY WHERE 1", 164),
    ("/* SELECT */ DROP TABLE events", 164),
    ("SELECT 1; DROP TABLE events", 62),
    ("SELECT 1;SELECT 2;", 62),
    ("SELECT 1 INTO OUTFILE '/tmp/x'", 164),
    ("SELECT * FROM python(secret)", 164),
    ("SELECT 'unterminated", 62),
    ("SELECT 1 /* unterminated", 62),
    ("", 62),
    (" ; ", 62),
    ("SELECT 1 FORMAT Dataframe", 73),
])
def test_everything_else_is_refused_before_the_engine(sql: str, code: int) -> None:
    with pytest.raises(Refused) as refused:
        read_statement(sql)
    assert refused.value.code == code
    assert refused.value.body().startswith(f"Code: {code}. DB::Exception: ".encode())


def test_a_trailing_semicolon_is_one_statement() -> None:
    assert read_statement("SELECT 1;").sql == "SELECT 1;"


def test_engine_errors_keep_clickhouse_code_and_message() -> None:
    err = _engine_error(RuntimeError("Code: 60. DB::Exception: Unknown table expression identifier "
                                     "'nope'. (UNKNOWN_TABLE) (version 26.9.2.1)"))
    assert err.code == 60 and err.status == 404
    assert str(err).startswith("Unknown table expression identifier 'nope'")
    nested = _engine_error(RuntimeError("Code: 164. DB::Exception: Code: 164. DB::Exception: Cannot modify "
                                        "'readonly' setting in readonly mode. (READONLY)"))
    assert nested.code == 164 and str(nested).startswith("Cannot modify 'readonly'")


def test_the_record_is_for_its_owner_and_goes_with_its_process(tmp_path: Path) -> None:
    store = tmp_path / "clickhouse"
    record = FrontRecord("http://127.0.0.1:4567", "tahawul", "pw", os.getpid(), "http://127.0.0.1:4567/en")
    path = write_record(store, record)
    assert path == record_path(store) and path.parent == tmp_path  # beside the store, not in it
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_record(store) == record and record.port == 4567 and record.host == "127.0.0.1"
    remove_record(store, os.getpid() + 1)  # not its process: stays
    assert read_record(store) == record
    remove_record(store, os.getpid())
    assert read_record(store) is None


def test_a_record_left_by_a_dead_up_is_ignored(tmp_path: Path) -> None:
    store = tmp_path / "clickhouse"
    write_record(store, FrontRecord("http://127.0.0.1:1", "tahawul", "pw", 2**22 + 12345))
    assert read_record(store) is None
    record_path(store).write_text("{not json", "utf-8")
    assert read_record(store) is None


def test_the_rate_spans_the_window_not_the_last_instant() -> None:
    rate = EventRate(window=5.0)
    # a write of 1,000 events every 2 s: a last-second rate reads 0 half the time
    for second in range(0, 21):
        rate.sample(1000 * (second // 2), now=float(second))
        if second >= 5:
            assert 300 <= rate.rate() <= 700, (second, rate.rate())
    for second in range(21, 30):  # the stream stops: the rate falls to 0 within the window
        rate.sample(10_000, now=float(second))
    assert rate.rate() == 0.0


def test_the_progress_line_shows_the_rate_between_writes(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    clock = [100.0]
    monkeypatch.setattr("tahawul.cli.console.time.monotonic", lambda: clock[0])
    monkeypatch.setattr("tahawul.runtime.rates.time.monotonic", lambda: clock[0])
    run = Run()
    view = LiveView(run, 100.0, io.StringIO())
    for tick in range(1, 41):  # 10 s of refreshes every 0.25 s; a write of 2,000 every 2 s
        clock[0] = 100.0 + tick * 0.25
        if tick % 8 == 0:
            run.counted += 2000
        view.refresh()
    lines = capsys.readouterr().err.splitlines()
    # 4,000 events in the window's 5 s (a measure over the last second only read 0 here)
    assert lines[-1] == "[   5.2s] sent 0, counted 4,000, duplicates 0, rejected 0, 800 events/s", lines


def test_live_state_lists_every_governorate() -> None:
    state = live_state(10, 2, 1, 13, 4.25, {("OM-MA", "digital"): 7, ("OM-MA", "manual"): 3})
    json.dumps(state)  # what /live.json sends
    muscat = next(g for g in state["governorates"] if g["code"] == "OM-MA")
    assert muscat == {"code": "OM-MA", "digital": 7, "manual": 3}
    assert len(state["governorates"]) == 11 and state["rate"] == 4.2


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_live_page_carries_the_numbers_before_its_script_runs(lang: str) -> None:
    page = live_page(lang, live_state(12345, 2, 1, 13, 0.0, {("OM-MA", "digital"): 7}))  # type: ignore[arg-type]
    assert f'dir="{"rtl" if lang == "ar" else "ltr"}"' in page
    assert 'data-live="counted" data-value="12345">12,345<' in page
    assert 'data-live="OM-MA:digital" data-value="7">7<' in page
    assert 'src="/' + lang + '/report"' in page
    assert "http://" not in page and "https://" not in page  # nothing from elsewhere
