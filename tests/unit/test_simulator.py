"""The simulator hits its profile's totals exactly, is repeatable, and its truth is honest.

The stream is checked with a strict contract checker written here, independently of the
simulator and of the pipeline's validator, so "valid" means valid by the contract text.
"""

from __future__ import annotations

import csv
import random
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from tahawul.producers.simulator import (
    INVALID_KINDS,
    PROFILES,
    SimulatedLine,
    Truth,
    governorate_totals,
    iter_simulation,
    run_simulation,
)
from tahawul.producers.simulator.apportion import largest_remainder, round_half_up
from tahawul.producers.simulator.calendar import TimeOfDay, occurred_at
from tahawul.producers.simulator.invalid import InvalidLines
from tahawul.schemas.event import InvalidEvent, parse
from tahawul.schemas.reference import Catalogue, load_catalogue

PROFILE = "oman-2025-h1"
FIRST_DAY, LAST_DAY = date(2025, 1, 1), date(2025, 6, 30)
EIDS = ((date(2025, 3, 30), date(2025, 4, 3)), (date(2025, 6, 6), date(2025, 6, 9)))
FRIDAY, SATURDAY = 4, 5

REQUIRED = {
    "event_id", "schema_version", "occurred_at", "entity", "service", "governorate",
    "channel", "status", "quantity", "automated",
}
ALLOWED = REQUIRED | {"satisfaction"}
STATUSES = {"submitted", "completed", "rejected", "abandoned"}
OCCURRED_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+04:00")
EVENT_ID = re.compile(rb'"event_id":"([0-9a-f-]{36})"|event_id=([0-9a-f-]{36})')


def violation(data: bytes, cat: Catalogue) -> str | None:
    """Why ``data`` breaks event contract v1, or None if it is a valid event."""
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        return "not json"
    if not isinstance(event, dict):
        return "not an object"
    if REQUIRED - event.keys() or event.keys() - ALLOWED:
        return "fields"
    eid = event["event_id"]
    if not isinstance(eid, str) or str(uuid.UUID(eid)) != eid or uuid.UUID(eid).version != 4:
        return "event_id"
    if type(event["schema_version"]) is not int or event["schema_version"] != 1:
        return "schema_version"
    at = event["occurred_at"]
    if not isinstance(at, str) or not OCCURRED_AT.fullmatch(at):
        return "occurred_at format"
    if not FIRST_DAY <= datetime.fromisoformat(at).date() <= LAST_DAY:
        return "occurred_at out of period"
    entity = cat.entities.get(event["entity"])
    service = cat.services.get(event["service"])
    channel = cat.channels.get(event["channel"])
    if entity is None or service is None or channel is None:
        return "unknown code"
    if service.entity != entity.code:
        return "service not owned"
    if event["governorate"] not in cat.governorates:
        return "unknown governorate"
    if entity.governorate not in (None, event["governorate"]):
        return "local entity outside its governorate"
    if event["status"] not in STATUSES:
        return "status"
    quantity = event["quantity"]
    if type(quantity) is not int or quantity < 1 or (quantity > 1 and channel.mode != "manual"):
        return "quantity"
    if type(event["automated"]) is not bool:
        return "automated"
    satisfaction = event.get("satisfaction")
    if satisfaction is not None and (type(satisfaction) is not int or not 1 <= satisfaction <= 5):
        return "satisfaction"
    return None


def recount(
    lines: Iterable[bytes], cat: Catalogue
) -> tuple[dict[tuple[str, ...], int], Counter[str]]:
    """Truth recomputed from raw lines: contract check, dedup by event_id, completed only."""
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    kinds: Counter[str] = Counter()
    seen: set[str] = set()
    for data in lines:
        if violation(data, cat) is not None:
            kinds["invalid"] += 1
            continue
        event = orjson.loads(data)
        if event["event_id"] in seen:
            kinds["duplicate"] += 1
            continue
        seen.add(event["event_id"])
        kinds["valid"] += 1
        if event["status"] == "completed":
            channel = event["channel"]
            key = (
                event["occurred_at"][:10], event["governorate"], event["entity"],
                event["service"], channel, cat.channels[channel].mode,
            )
            counts[key] += event["quantity"]
    return dict(counts), kinds


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    """One scale-0.01 run with injection, written to files like the CLI does."""
    base = tmp_path_factory.mktemp("sim")
    out, truth = base / "events.jsonl", base / "truth.csv"
    summary = run_simulation(PROFILE, 0.01, 11, out, truth, duplicate_rate=0.05, invalid_rate=0.05)
    return out, truth, summary


@pytest.fixture(scope="module")
def lines() -> list[SimulatedLine]:
    return list(iter_simulation(PROFILE, 0.01, 11, duplicate_rate=0.05, invalid_rate=0.05))


@pytest.fixture(scope="module")
def valid_events(lines: list[SimulatedLine]) -> list[dict[str, Any]]:
    return [orjson.loads(line.data) for line in lines if line.kind == "valid"]


def test_published_targets_are_exact_at_scale_001(run: tuple[Path, Path, Any]) -> None:
    _, _, summary = run
    assert summary.digital_by_governorate["OM-BS"] == 965
    assert summary.digital_by_governorate["OM-ZA"] == 139
    assert summary.digital_by_governorate == {
        code: c.digital for code, c in governorate_totals(PROFILES[PROFILE], 0.01).items()
    }


def test_targets_are_exact_at_another_scale(cat: Catalogue) -> None:
    truth = Truth(cat)
    for line in iter_simulation(PROFILE, 0.05, 3):
        truth.add(line)
    digital = truth.digital_by_governorate()
    assert digital["OM-BS"] == 4824  # 96,478 x 0.05 = 4,823.9
    assert digital["OM-ZA"] == 697  # 13,931 x 0.05 = 696.55
    manual: Counter[str] = Counter()
    for row in truth.rows():
        if row.mode == "manual":
            manual[row.governorate] += row.transactions
    for code, counts in governorate_totals(PROFILES[PROFILE], 0.05).items():
        assert digital[code] == counts.digital
        assert manual[code] == counts.manual


def test_profile_totals() -> None:
    profile = PROFILES[PROFILE]
    full = governorate_totals(profile, 1)
    assert full["OM-BS"].digital == 96_478
    assert full["OM-ZA"].digital == 13_931
    assert full["OM-MA"].digital == round_half_up(Decimal(234_251 * 181) / 304) == 139_472
    assert full["OM-DA"].digital == round_half_up(Decimal(581_006 * 181) / 304) == 345_928
    assert set(full) == set(load_catalogue().governorates)
    # Half up on the decimal the caller wrote, not on the float's binary expansion.
    assert governorate_totals(profile, 0.5)["OM-ZA"].digital == 6_966
    small = governorate_totals(profile, 0.01)["OM-BS"]
    share = profile.governorates["OM-BS"].digital_share
    assert small.manual == round_half_up(Decimal("964.78") * (1 - share) / share)
    nc = small.digital_non_completed + small.manual_non_completed
    assert 0.08 <= nc / (small.digital + small.manual) <= 0.12
    assert all(t.source == "estimate" for c, t in profile.governorates.items()
               if c not in {"OM-BS", "OM-ZA", "OM-MA", "OM-DA"})
    assert governorate_totals(profile, 0)["OM-MA"].digital == 0
    with pytest.raises(ValueError):
        governorate_totals(profile, -1)


def test_largest_remainder_is_exact() -> None:
    rng = random.Random(5)
    for _ in range(200):
        weights = [rng.choice((0, 0, 1, 7, 1_000_000)) for _ in range(rng.randint(1, 40))]
        if not any(weights):
            continue
        total = rng.randint(0, 5000)
        parts = largest_remainder(total, weights)
        assert sum(parts) == total
        for part, weight in zip(parts, weights, strict=True):
            assert part == 0 if weight == 0 else abs(part - total * weight / sum(weights)) < 1


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    def stream(seed: int, rate: float) -> list[bytes]:
        run = iter_simulation(PROFILE, 0.003, seed, duplicate_rate=rate, invalid_rate=rate)
        return [line.data for line in run]

    first = stream(1, 0.1)
    assert first == stream(1, 0.1)
    assert first != stream(2, 0.1)
    # Injection draws from its own generator: the valid events do not depend on it.
    valid = [line.data for line in iter_simulation(PROFILE, 0.003, 1)]
    assert valid == stream(1, 0.0)
    injected = list(iter_simulation(PROFILE, 0.003, 1, duplicate_rate=0.1, invalid_rate=0.1))
    assert [line.data for line in injected if line.kind == "valid"] == valid


def test_truth_csv_equals_recount_of_the_jsonl(
    run: tuple[Path, Path, Any], cat: Catalogue
) -> None:
    out, truth_csv, summary = run
    raw = out.read_bytes()
    assert raw.endswith(b"\n")
    expected, kinds = recount(raw.split(b"\n")[:-1], cat)
    with truth_csv.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        assert next(reader) == [
            "day", "governorate", "entity", "service", "channel", "mode", "transactions",
        ]
        rows = list(reader)
    assert rows == sorted(rows, key=lambda r: (*r[:6], int(r[6])))
    assert {tuple(r[:6]): int(r[6]) for r in rows} == expected
    assert len(rows) == len(expected)
    assert kinds == {
        "valid": summary.valid, "duplicate": summary.duplicates, "invalid": summary.invalid
    }
    assert summary.lines == raw.count(b"\n") == sum(kinds.values())
    assert summary.duplicates > 0 and summary.invalid > 0


def test_duplicates_are_byte_identical_repeats_later_the_same_day(
    lines: list[SimulatedLine],
) -> None:
    first_seen: dict[bytes, int] = {}
    duplicates = 0
    for index, line in enumerate(lines):
        if line.kind == "valid":
            assert line.data not in first_seen
            first_seen[line.data] = index
        elif line.kind == "duplicate":
            duplicates += 1
            original = first_seen[line.data]
            assert original < index
            assert lines[original].entity == line.entity
            day = orjson.loads(line.data)["occurred_at"][:10]
            between = [ln for ln in lines[original:index] if ln.kind == "valid"]
            assert all(orjson.loads(ln.data)["occurred_at"][:10] == day for ln in between)
    valid = len(first_seen)
    assert 0.03 * valid < duplicates < 0.07 * valid


def test_duplicates_and_invalid_lines_count_nothing(cat: Catalogue) -> None:
    plain, injected = Truth(cat), Truth(cat)
    for line in iter_simulation(PROFILE, 0.003, 4):
        plain.add(line)
    for line in iter_simulation(PROFILE, 0.003, 4, duplicate_rate=0.3, invalid_rate=0.3):
        injected.add(line)
    assert injected.rows() == plain.rows()
    assert injected.valid == plain.valid
    assert injected.duplicate > 0 and injected.invalid > 0
    assert plain.duplicate == plain.invalid == 0


def test_invalid_lines_break_the_contract_with_fresh_ids(
    lines: list[SimulatedLine], cat: Catalogue
) -> None:
    valid_ids = {orjson.loads(ln.data)["event_id"] for ln in lines if ln.kind == "valid"}
    invalid = [ln for ln in lines if ln.kind == "invalid"]
    assert invalid
    for line in invalid:
        assert violation(line.data, cat) is not None, line.data
        with pytest.raises(InvalidEvent):  # and the pipeline's own validator agrees
            parse(line.data, cat)
        for match in EVENT_ID.finditer(line.data):
            found = (match.group(1) or match.group(2)).decode()
            assert found not in valid_ids
        assert line.entity is None or line.entity in cat.entities
    for line in lines:
        if line.kind != "invalid":
            assert violation(line.data, cat) is None, line.data
            parse(line.data, cat)


@pytest.mark.parametrize("kind", INVALID_KINDS)
def test_every_invalid_kind_is_invalid(
    kind: str, valid_events: list[dict[str, Any]], cat: Catalogue
) -> None:
    maker = InvalidLines(cat)
    rng = random.Random(kind)
    for event in valid_events[:40]:
        data, entity = maker.make(event, rng, kind)
        assert violation(data, cat) is not None, data
        with pytest.raises(InvalidEvent):
            parse(data, cat)
        assert b"\n" not in data
        assert entity in (None, event["entity"])


def test_weekends_and_eid_are_quieter(valid_events: list[dict[str, Any]]) -> None:
    per_day = Counter(date.fromisoformat(e["occurred_at"][:10]) for e in valid_events)
    days = [date.fromordinal(d) for d in range(FIRST_DAY.toordinal(), LAST_DAY.toordinal() + 1)]
    eid = {d for d in days for first, last in EIDS if first <= d <= last}
    weekend = [per_day[d] for d in days if d.weekday() in (FRIDAY, SATURDAY) and d not in eid]
    working = [per_day[d] for d in days if d.weekday() not in (FRIDAY, SATURDAY) and d not in eid]
    assert sum(weekend) / len(weekend) < 0.6 * sum(working) / len(working)
    assert sum(per_day[d] for d in eid) / len(eid) < 0.6 * sum(working) / len(working)


def test_manual_events_only_in_office_hours(
    valid_events: list[dict[str, Any]], cat: Catalogue
) -> None:
    manual = [e for e in valid_events if cat.channels[e["channel"]].mode == "manual"]
    assert manual
    for event in manual:
        at = datetime.fromisoformat(event["occurred_at"])
        assert at.weekday() not in (FRIDAY, SATURDAY), event
        assert not any(first <= at.date() <= last for first, last in EIDS), event
        assert "07:30:00.000" <= event["occurred_at"][11:23] < "14:30:00.000", event
    digital_hours = {
        datetime.fromisoformat(e["occurred_at"]).hour
        for e in valid_events
        if cat.channels[e["channel"]].mode == "digital"
    }
    assert {10, 20} <= digital_hours  # daytime peak and evening activity


def test_entities_services_and_governorates_agree(
    valid_events: list[dict[str, Any]], cat: Catalogue
) -> None:
    local_seen = set()
    for event in valid_events:
        entity = cat.entities[event["entity"]]
        assert cat.services[event["service"]].entity == entity.code
        if entity.governorate is not None:
            assert event["governorate"] == entity.governorate
            local_seen.add(entity.code)
    assert local_seen  # the check above ran on local entities at all


def test_stream_is_in_time_order_within_days_in_order(lines: list[SimulatedLine]) -> None:
    stamps = [orjson.loads(ln.data)["occurred_at"] for ln in lines if ln.kind == "valid"]
    assert stamps == sorted(stamps)
    assert stamps[0][:10] == "2025-01-01" and stamps[-1][:10] == "2025-06-30"


def test_event_mix(valid_events: list[dict[str, Any]], cat: Catalogue) -> None:
    completed = [e for e in valid_events if e["status"] == "completed"]
    non_completed = len(valid_events) - len(completed)
    assert 0.08 < non_completed / len(completed) < 0.14
    digital = [e for e in completed if cat.channels[e["channel"]].mode == "digital"]
    rated = [e["satisfaction"] for e in digital if "satisfaction" in e]
    assert 0.25 < len(rated) / len(digital) < 0.35
    assert sum(rated) / len(rated) > 3.8
    assert not any(
        "satisfaction" in e
        for e in valid_events
        if e["status"] != "completed" or cat.channels[e["channel"]].mode != "digital"
    )
    tallies = [e for e in completed if e["quantity"] > 1]
    assert tallies and all(2 <= e["quantity"] <= 40 for e in tallies)
    automated = Counter(e["channel"] for e in valid_events if e["automated"])
    assert automated.most_common(1)[0][0] == "api"
    assert set(automated) <= {"api", "portal"}
    assert {e["channel"] for e in valid_events} == set(cat.channels)


def test_arguments_are_checked_eagerly() -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        iter_simulation("nope", 0.01, 1)
    with pytest.raises(ValueError):
        iter_simulation(PROFILE, -0.5, 1)
    with pytest.raises(ValueError):
        iter_simulation(PROFILE, 0.01, 1, duplicate_rate=1.5)
    with pytest.raises(ValueError):
        iter_simulation(PROFILE, float("nan"), 1)
    assert list(iter_simulation(PROFILE, 0, 1)) == []


def test_time_of_day_bounds() -> None:
    times = TimeOfDay(PROFILES[PROFILE].shape)
    rng = random.Random(9)
    manual = [times.manual(rng) for _ in range(50_000)]
    open_ms, close_ms = (7 * 60 + 30) * 60_000, (14 * 60 + 30) * 60_000
    assert open_ms <= min(manual) < open_ms + 60_000
    assert close_ms - 60_000 <= max(manual) < close_ms
    digital = [times.digital(rng) for _ in range(50_000)]
    assert min(digital) >= 0 and max(digital) < 86_400_000
    assert occurred_at("2025-01-05", 9 * 3_600_000 + 12 * 60_000 + 33_120) == (
        "2025-01-05T09:12:33.120+04:00"
    )
