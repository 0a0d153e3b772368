"""The simulated entities' control totals, and events lost on purpose (issue 17).

Each entity's system knows what it completed: the simulator states it as control totals
(schemas/control_total.py), per entity, Muscat day, service and channel, the completed
transactions of its valid events, after the events. They are consistent with the truth: with
nothing lost, every cell of `tahawul audit completeness` is complete.

``lose_fraction`` drops a share of the valid events between the producer and the broker, as a
crashed producer or a broken integration would: they are in the control totals (the system
completed them) but never sent, nor in the truth of what was sent; a re-send (duplicate) of a
lost event is lost with it, so that the loss is exact. ``on_lost`` sees every lost line, so a
test can say which cells must show what difference.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

import orjson

from tahawul.producers.simulator.generate import SimulatedLine
from tahawul.producers.simulator.truth import muscat_day
from tahawul.schemas.control_total import KIND, SCHEMA_VERSION

Cell = tuple[str, str, str, str]  # entity, day (ISO), service, channel


class ControlTotals:
    """Completed transactions per cell of the valid lines added (any status makes a cell)."""

    def __init__(self) -> None:
        self.cells: dict[Cell, int] = {}

    def add(self, line: SimulatedLine) -> None:
        if line.kind != "valid":
            return
        event = orjson.loads(line.data)
        cell = (event["entity"], muscat_day(event["occurred_at"]).isoformat(), event["service"],
                event["channel"])
        done = event.get("quantity", 1) if event["status"] == "completed" else 0
        self.cells[cell] = self.cells.get(cell, 0) + done

    def lines(self, now: datetime | None = None) -> list[SimulatedLine]:
        """One control total per cell, stated ``now``, in cell order."""
        stated_at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")
        return [SimulatedLine(orjson.dumps({
            "kind": KIND, "schema_version": SCHEMA_VERSION, "entity": entity, "day": day,
            "service": service, "channel": channel, "completed": completed, "stated_at": stated_at,
        }), "control_total", entity)
            for (entity, day, service, channel), completed in sorted(self.cells.items())]


def with_control_totals(lines: Iterable[SimulatedLine], seed: int, lose_fraction: float = 0.0,
                        on_lost: Callable[[SimulatedLine], None] | None = None,
                        now: datetime | None = None) -> Iterator[SimulatedLine]:
    """The lines, less those lost on purpose, followed by the control totals of all valid ones."""
    if not 0.0 <= lose_fraction <= 1.0:
        raise ValueError(f"lose_fraction must be within [0, 1], got {lose_fraction}")
    totals = ControlTotals()
    rng = random.Random(f"tahawul-loss/{seed}")
    lost_ids: set[bytes] = set()
    for line in lines:
        totals.add(line)
        if lose_fraction and line.kind == "valid" and rng.random() < lose_fraction:
            lost_ids.add(_event_id(line.data))
            if on_lost is not None:
                on_lost(line)
            continue
        if lost_ids and line.kind == "duplicate" and _event_id(line.data) in lost_ids:
            continue  # the re-send of a lost event is lost with it
        yield line
    yield from totals.lines(now)


def _event_id(data: bytes) -> bytes:
    obj = orjson.loads(data)
    return f"{obj.get('entity')}/{obj.get('event_id')}".encode()
