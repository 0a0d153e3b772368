"""Simulated government transactions in event contract v1, with the truth to check them by.

A run is fixed by (profile, scale, seed): per-governorate totals are exact for any scale,
the stream is deterministic for a seed, and duplicates and invalid lines can be injected
without changing which valid events are produced.
"""

from producers.simulator.generate import SimulatedLine, iter_simulation
from producers.simulator.invalid import INVALID_KINDS
from producers.simulator.plan import Counts, governorate_totals
from producers.simulator.profiles import PROFILES, Profile, get_profile
from producers.simulator.run import SimulationSummary, run_simulation
from producers.simulator.truth import Truth, TruthRow

__all__ = [
    "INVALID_KINDS",
    "PROFILES",
    "Counts",
    "Profile",
    "SimulatedLine",
    "SimulationSummary",
    "Truth",
    "TruthRow",
    "get_profile",
    "governorate_totals",
    "iter_simulation",
    "run_simulation",
]
