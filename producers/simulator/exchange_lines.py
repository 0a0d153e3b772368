"""An exchange profile's halves as simulated lines: what every feed sends.

`tahawul up --simulate exchanges-2024`, `simulate --send` and the benchmarks read a run as
:class:`~tahawul.producers.simulator.generate.SimulatedLine` objects;
:func:`~tahawul.producers.simulator.generate.iter_simulation` hands an exchange profile's
name here. Each half (producers/simulator/exchanges.py) becomes a line of kind
``exchange`` whose entity is its signer (the party that reports it: the key it is
partitioned by and signed with). ``duplicate_rate`` re-sends that share of halves a few lines
later (the writer must count each once); ``invalid_rate`` mixes in halves that break the
contract (``items`` 0: rejected ``bad_items``), as for transaction profiles.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Final

import orjson

from tahawul.producers.simulator.exchanges import SimulatedExchange, iter_exchanges

# (data, kind, signer): what generate.SimulatedLine is made of (generate.py wraps these; this
# module does not import it, which would make the two modules import each other).
Line = tuple[bytes, str, str]

# A re-sent half follows its original within this many lines.
DUPLICATE_MAX_DELAY: Final = 50


def exchange_lines(profile: str, scale: float, seed: int, duplicate_rate: float = 0.0,
                   invalid_rate: float = 0.0) -> Iterator[Line]:
    """The run's halves as (data, kind, signer) lines, in the order the profile streams them."""
    for name, rate in (("duplicate_rate", duplicate_rate), ("invalid_rate", invalid_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be within [0, 1], got {rate}")
    halves = iter_exchanges(profile, scale, seed)  # checks the profile and scale now
    return _lines(halves, random.Random(f"tahawul-exchange-injection/{seed}"), duplicate_rate,
                  invalid_rate)


def _lines(halves: Iterator[SimulatedExchange], rng: random.Random, duplicate_rate: float,
           invalid_rate: float) -> Iterator[Line]:
    later: list[tuple[int, Line]] = []  # (due after half n, the copy)
    for n, half in enumerate(halves, start=1):
        data, signer = half.data, half.signer
        yield data, "exchange", signer
        if duplicate_rate and rng.random() < duplicate_rate:
            later.append((n + rng.randint(0, DUPLICATE_MAX_DELAY), (data, "duplicate", signer)))
        if invalid_rate and rng.random() < invalid_rate:
            bad = orjson.loads(data)
            bad["items"] = 0
            yield orjson.dumps(bad), "invalid", signer
        while later and later[0][0] <= n:
            yield later.pop(0)[1]
    for _, copy in later:
        yield copy
