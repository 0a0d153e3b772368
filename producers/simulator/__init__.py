"""Simulated government transactions in event contract v1, with the truth to check them by.

A run is fixed by (profile, scale, seed): per-governorate totals are exact for any scale,
the stream is deterministic for a seed, and duplicates and invalid lines can be injected
without changing which valid events are produced.
"""

from tahawul.producers.simulator.exchanges import (
    EXCHANGE_PROFILES,
    ExchangeTruth,
    SimulatedExchange,
    is_exchange_profile,
    iter_exchanges,
)
from tahawul.producers.simulator.generate import SimulatedLine, iter_simulation
from tahawul.producers.simulator.invalid import INVALID_KINDS
from tahawul.producers.simulator.plan import Counts, governorate_totals
from tahawul.producers.simulator.profiles import PROFILES, Profile, get_profile
from tahawul.producers.simulator.run import SimulationSummary, run_simulation
from tahawul.producers.simulator.truth import Truth, TruthRow

__all__ = [
    "EXCHANGE_PROFILES",
    "INVALID_KINDS",
    "PROFILES",
    "Counts",
    "ExchangeTruth",
    "Profile",
    "SimulatedExchange",
    "SimulatedLine",
    "SimulationSummary",
    "Truth",
    "TruthRow",
    "get_profile",
    "governorate_totals",
    "is_exchange_profile",
    "iter_exchanges",
    "iter_simulation",
    "run_simulation",
]
