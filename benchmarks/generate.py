"""Synthetic raw events for the query benchmark, generated inside ClickHouse.

Feeding 100 million events through Kafka and the Faust workers would take hours on a
2-core machine and measure the pipeline, not the queries; the benchmark needs the store's
tables as a year of national traffic would leave them. So the rows are made by
``INSERT INTO events SELECT ... FROM numbers()``, drawing every column from the same
simulator profile the pipeline uses (``producers.simulator``): governorate volumes and
digital shares, the status mix, which services a governorate's digital or manual events
name, channel mixes, counter tallies, day-of-year and time-of-day shapes, automation rates
and satisfaction ratings. Each weighted choice becomes a lookup array of ``LUT`` slots
(largest-remainder apportionment) indexed by a seeded hash of the row number, so a run is
deterministic for a seed and costs a few hashes per row. What differs from the simulator:
totals are proportional rather than exact, the year is 2025 with the profile's weekly and
month-end shape (its holidays are those it lists), and ``ingested_at`` is a few seconds to
two minutes after ``occurred_at`` except for a share of late arrivals one to five days
after. ``counts_minute`` is not filled: no published view reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from tahawul.producers.simulator.apportion import largest_remainder
from tahawul.producers.simulator.calendar import day_weights
from tahawul.producers.simulator.population import Population
from tahawul.producers.simulator.profiles import Profile, get_profile
from tahawul.producers.simulator.weighted import Weighted
from tahawul.schemas.reference import load_catalogue

LUT = 4096
YEAR = 2025
LATE_PER_MILLE = 3
# Weights become integers at this resolution before apportioning LUT slots.
WEIGHT_SCALE = 10**9


def _weights(w: Weighted[Any]) -> list[float]:
    """The weights of a simulator distribution (it keeps them cumulative)."""
    cum = w._cum  # the simulator builds these once; reuse rather than re-derive
    return [b - a for a, b in zip((0.0, *cum[:-1]), cum, strict=True)]


def lut(weights: Sequence[float], size: int = LUT) -> list[int]:
    """``size`` slots holding 0-based item indexes in proportion to ``weights``."""
    ints = [round(w * WEIGHT_SCALE) for w in weights]
    counts = largest_remainder(size, ints)
    return [i for i, c in enumerate(counts) for _ in range(c)]


def _strata(profile: Profile) -> list[tuple[str, str, str, float]]:
    """(governorate, mode, status, relative number of events) from the profile's targets."""
    mean_tally = (2 + profile.tally_max) / 2
    per_event = 1 + profile.tally_rate * (mean_tally - 1)
    rows: list[tuple[str, str, str, float]] = []
    for gov, target in profile.governorates.items():
        share = float(target.digital_share)
        digital = float(target.digital)
        manual_qty = digital * (1 - share) / share
        rows.append((gov, "digital", "completed", digital))
        rows.append((gov, "manual", "completed", manual_qty / per_event))
        open_ = (digital + manual_qty) * float(profile.non_completed_rate)
        for mode, part, mix in (("digital", share, profile.digital_statuses),
                                ("manual", 1 - share, profile.manual_statuses)):
            for status, weight in mix.items():
                rows.append((gov, mode, status, open_ * part * weight))
    return rows


def _arr(values: Sequence[Any]) -> str:
    return "[" + ",".join(repr(v) if isinstance(v, str) else str(v) for v in values) + "]"


def build_select(profile_name: str = "oman-2025-h1", seed: int = 7) -> str:
    """The SELECT that turns ``number`` into one event row (columns in events' order)."""
    profile = get_profile(profile_name)
    cat = load_catalogue()
    pop = Population.of(profile, cat)
    strata = _strata(profile)
    groups = sorted({(g, m) for g, m, _, _ in strata})
    services = sorted(cat.services)
    svc_index = {s: i for i, s in enumerate(services)}
    service_lut: list[int] = []
    for gov, mode in groups:
        weighted = pop.services[(gov, mode)]  # type: ignore[index]
        service_lut += [svc_index[weighted.items[i][1]] for i in lut(_weights(weighted))]
    channels = sorted(cat.channels)
    ch_index = {c: i for i, c in enumerate(channels)}
    chan_lut = {m: [ch_index[pop.channels[m].items[i]] for i in lut(_weights(pop.channels[m]))]
                for m in ("digital", "manual")}
    tally_lut = [ch_index[pop.tally_channels.items[i]] for i in lut(_weights(pop.tally_channels))]
    first = date(YEAR, 1, 1)
    days = [first + timedelta(days=i) for i in range((date(YEAR + 1, 1, 1) - first).days)]
    day_lut = {m: lut(day_weights(profile, days, m)) for m in ("digital", "manual")}
    hour_lut = lut(profile.shape.digital_hours)
    slot_lut = lut(profile.shape.manual_slots)
    sat_items = sorted(profile.satisfaction_weights)
    sat_lut = [sat_items[i] for i in lut([profile.satisfaction_weights[k] for k in sat_items], 1000)]
    auto = [round(profile.automated_rate.get(c, 0.0) * 10_000) for c in channels]
    base_ms = int(datetime(YEAR, 1, 1, tzinfo=UTC).timestamp() * 1000) - 4 * 3_600_000  # Muscat midnight
    office_ms = profile.shape.office_open * 60_000
    sat_rate = round(profile.satisfaction_rate * 1000)
    tally_rate = round(profile.tally_rate * 1000)
    strat_lut = lut([w for *_, w in strata], 65536)

    def h(k: int, mod: int) -> str:
        return f"(sipHash64({seed}, number, {k}) % {mod})"

    return f"""
WITH
    {_arr(strat_lut)} AS strat_lut,
    {_arr([groups.index((g, m)) for g, m, _, _ in strata])} AS strat_group,
    {_arr([g for g, _, _, _ in strata])} AS strat_gov,
    {_arr([m for _, m, _, _ in strata])} AS strat_mode,
    {_arr([s for _, _, s, _ in strata])} AS strat_status,
    {_arr(service_lut)} AS service_lut,
    {_arr(services)} AS svc_code,
    {_arr([cat.services[s].entity for s in services])} AS svc_entity,
    {_arr(channels)} AS ch_code,
    {_arr(chan_lut['digital'])} AS dch_lut,
    {_arr(chan_lut['manual'])} AS mch_lut,
    {_arr(tally_lut)} AS tally_lut,
    {_arr(day_lut['digital'])} AS dday_lut,
    {_arr(day_lut['manual'])} AS mday_lut,
    {_arr(hour_lut)} AS hour_lut,
    {_arr(slot_lut)} AS slot_lut,
    {_arr(sat_lut)} AS sat_lut,
    {_arr(auto)} AS auto_rate,
    1 + strat_lut[1 + {h(1, 65536)}] AS s,
    strat_mode[s] = 'digital' AS digital,
    strat_status[s] = 'completed' AS completed,
    1 + service_lut[1 + strat_group[s] * {LUT} + {h(2, LUT)}] AS svc,
    NOT digital AND completed AND {h(3, 1000)} < {tally_rate} AS tally,
    1 + if(tally, tally_lut[1 + {h(4, LUT)}], if(digital, dch_lut, mch_lut)[1 + {h(4, LUT)}]) AS ch,
    if(digital,
       dday_lut[1 + {h(5, LUT)}] * 86400000 + hour_lut[1 + {h(6, LUT)}] * 3600000 + {h(7, 3600000)},
       mday_lut[1 + {h(5, LUT)}] * 86400000 + {office_ms} + slot_lut[1 + {h(6, LUT)}] * 1800000
           + {h(7, 1800000)}) AS local_ms,
    fromUnixTimestamp64Milli(toInt64({base_ms} + local_ms), 'UTC') AS occurred
SELECT
    generateUUIDv4(number) AS event_id,
    occurred AS occurred_at,
    svc_entity[svc] AS entity,
    svc_code[svc] AS service,
    strat_gov[s] AS governorate,
    ch_code[ch] AS channel,
    strat_mode[s] AS mode,
    strat_status[s] AS status,
    toUInt32(if(tally, 2 + {h(8, profile.tally_max - 1)}, 1)) AS quantity,
    digital AND {h(9, 10000)} < auto_rate[ch] AS automated,
    if(digital AND completed AND {h(10, 1000)} < {sat_rate},
       toNullable(toUInt8(sat_lut[1 + {h(11, 1000)}])), NULL) AS satisfaction,
    sipHash64({seed}, number, 12) AS fingerprint,
    'benchmark' AS src_cluster,
    'tahawul.transactions' AS src_topic,
    toUInt32(cityHash64(entity) % 8) AS src_partition,
    number AS src_offset,
    occurred + toIntervalMillisecond(if({h(13, 1000)} < {LATE_PER_MILLE},
        86400000 + {h(14, 4 * 86400000)}, 2000 + {h(14, 118000)})) AS ingested_at
FROM numbers({{start:UInt64}}, {{rows:UInt64}})
"""


def generate(client: Client, rows: int, seed: int = 7, chunk: int = 10_000_000,
             profile: str = "oman-2025-h1", progress: Any = None) -> None:
    """Append ``rows`` synthetic events to ``events`` in chunks of ``chunk`` rows."""
    select = build_select(profile, seed)
    start = 0
    while start < rows:
        n = min(chunk, rows - start)
        client.command("INSERT INTO events " + select, parameters={"start": start, "rows": n},
                       settings={"max_query_size": 16_000_000})
        start += n
        if progress is not None:
            progress(start)

