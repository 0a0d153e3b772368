"""The simulator's control totals agree with its truth, and its losses on purpose are exact
(issue 17): the totals state what the entities completed, the truth what was sent."""

from __future__ import annotations

from collections import defaultdict

import orjson

from tahawul.producers.simulator import Truth, iter_simulation
from tahawul.producers.simulator.control_totals import with_control_totals
from tahawul.producers.simulator.generate import SimulatedLine
from tahawul.producers.simulator.truth import muscat_day
from tahawul.schemas.control_total import validate
from tahawul.schemas.reference import load_catalogue


def per_cell(truth: Truth) -> dict[tuple[str, str, str, str], int]:
    out: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for row in truth.rows():
        out[(row.entity, row.day.isoformat(), row.service, row.channel)] += row.transactions
    return dict(out)


def test_control_totals_agree_with_the_truth_and_losses_are_exact() -> None:
    catalogue = load_catalogue()
    everything = Truth()
    for line in iter_simulation("oman-2025-h1", 0.001, 3, duplicate_rate=0.05, invalid_rate=0.02):
        everything.add(line)
    lost: list[SimulatedLine] = []
    sent = Truth()
    totals: dict[tuple[str, str, str, str], int] = {}
    lines = iter_simulation("oman-2025-h1", 0.001, 3, duplicate_rate=0.05, invalid_rate=0.02)
    for line in with_control_totals(lines, 3, 0.02, lost.append):
        if line.kind == "control_total":
            t = validate(orjson.loads(line.data), catalogue)
            totals[(t.entity, t.day.isoformat(), t.service, t.channel)] = t.completed
            assert line.entity == t.entity
        sent.add(line)
    # The totals are the truth of everything the entities completed (cells with nothing
    # completed state 0).
    assert {c: n for c, n in totals.items() if n} == per_cell(everything)
    # What was sent is that less exactly the lost events (their re-sends lost with them).
    assert len(lost) > 10
    missing: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for line in lost:
        ev = orjson.loads(line.data)
        if ev["status"] == "completed":
            missing[(ev["entity"], muscat_day(ev["occurred_at"]).isoformat(), ev["service"],
                     ev["channel"])] += ev["quantity"]
    received = per_cell(sent)
    assert {c: n - received.get(c, 0) for c, n in totals.items() if n - received.get(c, 0)} == missing
    assert sent.valid == everything.valid - len(lost)
