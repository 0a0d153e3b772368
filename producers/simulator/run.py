"""A whole run to files: the JSONL stream and the truth CSV it must be checked against."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tahawul.producers.simulator.generate import SimulatedLine, iter_simulation
from tahawul.producers.simulator.truth import Truth


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    lines: int
    valid: int
    duplicates: int
    invalid: int
    # Completed digital transactions per governorate: what the dashboards must show.
    digital_by_governorate: Mapping[str, int]


def run_simulation(
    profile: str,
    scale: float,
    seed: int,
    out: Path,
    truth: Path,
    duplicate_rate: float = 0.0,
    invalid_rate: float = 0.0,
    wrap: Callable[[Iterable[SimulatedLine]], Iterator[SimulatedLine]] | None = None,
) -> SimulationSummary:
    """Write every line of a run to ``out`` (one per line) and its truth to ``truth``;
    ``wrap`` may change the stream first (control totals, losses: control_totals.py)."""
    lines: Iterable[SimulatedLine] = iter_simulation(profile, scale, seed, duplicate_rate, invalid_rate)
    if wrap is not None:
        lines = wrap(lines)
    expected = Truth()
    out.parent.mkdir(parents=True, exist_ok=True)
    truth.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as handle:
        write = handle.write
        for line in lines:
            write(line.data)
            write(b"\n")
            expected.add(line)
    expected.write_csv(truth)
    return SimulationSummary(
        lines=expected.lines,
        valid=expected.valid,
        duplicates=expected.duplicate,
        invalid=expected.invalid,
        digital_by_governorate=expected.digital_by_governorate(),
    )
