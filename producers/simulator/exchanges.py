"""The 2024 exchange profile: the national integration platform's traffic, X-Road style.

What is published ([003], docs/programme.md): 471,193,222 data items exchanged in
January-November 2024, 40 providing and 81 consuming entities in 2024. Everything else
here is our estimate, said so where it is chosen: how many items one exchange carries, how
the items spread over days and hours, which pairs talk, the data products, the error rate
and the share of exchanges whose two halves do not arrive as a pair.

How the totals stay exact at any scale:

- **items**: the items of *successful* exchanges over the period add up to
  ``471,193,222 × scale`` rounded half up (the documented rounding of
  ``tahawul.schemas.published``). The total is spread over days by integer weights
  (largest remainder), each day's items over that day's exchanges the same way, at least
  one item each; an exchange that ended in an error delivered nothing and carries the
  items it asked for, counted as errors, never as items exchanged.
- **40 providers / 81 consumers**: they do not scale. The first 81 successful exchanges
  of the run (one a consumer, spread over the period) pair every consumer with a provider
  so that each of the 81 consumers and each of the 40 providers is active at any scale;
  the rest follow the weighted pair graph. A scale too small to carry them (fewer items
  than the coverage needs on a day) is refused with a clear error.
- every exchange is counted once, whatever halves arrive: the truth applies the pairing
  rule of docs/exchanges.md (the provider's half is authoritative when present, else the
  consumer's), and the halves that do not pair are a documented share (below).

Deterministic by seed: each day draws from its own generator seeded by (seed, day), and
the pair graph and products are fixed by the profile, not the seed.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

import orjson

from tahawul.producers.simulator.apportion import as_decimal, largest_remainder, round_half_up
from tahawul.producers.simulator.calendar import MS_PER_HOUR, WEIGHT_RESOLUTION, occurred_at
from tahawul.producers.simulator.ids import valid_event_id
from tahawul.producers.simulator.weighted import Weighted
from tahawul.schemas.platform_members import load_platform_members
from tahawul.schemas.published import figure
from tahawul.schemas.reference import load_catalogue

Side = Literal["provider", "consumer"]
# paired: this half has its other half in the run; unmatched: it is the only one.
HalfKind = Literal["paired", "unmatched"]

EXCHANGE_SCHEMA_VERSION: Final = 1

# Error classes of the exchange contract (docs/exchanges.md) and how often each happens
# among failed exchanges (ours).
ERROR_MIX: Final = MappingProxyType({
    "timeout": 0.35,
    "provider_error": 0.30,
    "unauthorized": 0.10,
    "not_found": 0.15,
    "invalid_request": 0.08,
    "platform_error": 0.02,
})

# Providers: the catalogue entities that publish data products on the platform, 40 as
# published. Ours: the 36 national entities other than the Vision 2040 unit (which keeps
# no registry) and the four municipalities.
PROVIDERS: Final = (
    "ROP", "MOH", "SJC", "MJLA", "MOCIIP", "MOSD", "MOHUP", "MOL", "TAX", "SPF", "EA",
    "MOI", "MTCIT", "TRA", "CDAA", "MOFA", "MEM", "PP", "MARA", "OAAAQA", "CAA", "OPAZ",
    "FSA", "CBO", "SMEDA", "CPA", "MADAYN", "MAFWR", "MOF", "TENDER", "MOE", "MOHERI",
    "MHT", "MCSY", "MOINFO", "MOEC", "MUSCAT-MUN", "DHOFAR-MUN", "SOHAR-MUN", "DHAHIRAH-MUN",
)

# The registries everyone reads (civil status, residence, commercial register, labour,
# tax, health) carry most items: relative weights of providers, 1.0 for the rest (ours).
PROVIDER_WEIGHTS: Final = MappingProxyType({
    "ROP": 40.0, "MOCIIP": 18.0, "MOL": 12.0, "MOH": 10.0, "TAX": 8.0, "SPF": 7.0,
    "MOHUP": 5.0, "MJLA": 4.0, "MOSD": 4.0, "MOE": 3.0, "MOHERI": 3.0, "CBO": 2.5,
    "MOI": 2.0, "MUSCAT-MUN": 2.0, "MTCIT": 1.5,
})

# Consumers that read the most (ours): the police and the labour, health and social
# systems check people all day, banks check customers and companies (know-your-customer),
# telecoms check subscribers; 1.0 for the rest.
CONSUMER_WEIGHTS: Final = MappingProxyType({
    "ROP": 6.0, "MOL": 5.0, "MOH": 4.0, "SPF": 4.0, "MOSD": 3.0, "MOCIIP": 3.0, "TAX": 3.0,
    "MOHUP": 2.0, "MJLA": 2.0, "BANK-MUSCAT": 4.0, "NBO": 2.5, "BANK-DHOFAR": 2.5,
    "SOHAR-INTL": 2.0, "OAB": 1.5, "MALAA": 2.0, "OMANTEL": 2.5, "OOREDOO": 2.0,
    "VODAFONE-OM": 1.0, "MUSCAT-MUN": 2.0, "NCSI": 1.5,
})

# Data products of the big providers (codes ours); every other provider publishes
# ``<CODE>-REGISTRY`` and ``<CODE>-STATUS``.
PRODUCTS: Final = MappingProxyType({
    "ROP": ("ROP-PERSON", "ROP-RESIDENCE", "ROP-VEHICLE", "ROP-LICENCE", "ROP-TRAFFIC-FINES"),
    "MOCIIP": ("MOCIIP-CR", "MOCIIP-CR-PARTNERS", "MOCIIP-ACTIVITIES"),
    "MOL": ("MOL-WORK-PERMIT", "MOL-EMPLOYMENT", "MOL-JOBSEEKER"),
    "MOH": ("MOH-BIRTH", "MOH-DEATH", "MOH-MEDICAL-FITNESS", "MOH-SICK-LEAVE"),
    "TAX": ("TAX-VAT-REG", "TAX-CLEARANCE"),
    "SPF": ("SPF-BENEFITS", "SPF-CONTRIBUTIONS"),
    "MOHUP": ("MOHUP-LAND-TITLE", "MOHUP-PLOT"),
    "MJLA": ("MJLA-NOTARY-DEED", "MJLA-POWER-OF-ATTORNEY"),
    "MOSD": ("MOSD-SOCIAL-SECURITY", "MOSD-DISABILITY-CARD"),
    "MOE": ("MOE-STUDENT", "MOE-CERTIFICATE"),
    "MOHERI": ("MOHERI-GRADUATE", "MOHERI-SCHOLARSHIP"),
    "CBO": ("CBO-ACCOUNT-STATUS",),
})

# Shares of exchanges (ours, docs/exchanges.md): failures, and halves that do not pair.
ERROR_RATE: Final = 0.015
CONSUMER_ONLY_RATE: Final = 0.003  # the provider's log of it never arrived
PROVIDER_ONLY_RATE: Final = 0.001  # the consumer's log never arrived
MISMATCH_RATE: Final = 0.001  # both arrived, the consumer's states other items

# Hour weights (Asia/Muscat): systems serve the working day, and the bulk transfers that
# move the largest batches run at night (01:00-03:00), the bursts the platform sees.
HOUR_WEIGHTS: Final = (
    1.2, 3.5, 3.0, 1.0, 0.4, 0.5, 1.2, 3.0, 6.5, 8.0, 8.5, 8.0,
    7.0, 6.0, 4.5, 3.5, 3.0, 3.0, 3.2, 3.4, 3.2, 2.6, 2.0, 1.5,
)
# Mon .. Sun: Oman works Sunday to Thursday; machine-to-machine traffic goes on at weekends.
WEEKDAY_WEIGHTS: Final = (1.0, 1.0, 1.0, 0.95, 0.38, 0.45, 1.05)
# (first, last, factor): public holidays of 2024, as in the oman-2024 transaction profile.
LULLS: Final = (
    (date(2024, 4, 9), date(2024, 4, 13), 0.5),
    (date(2024, 6, 15), date(2024, 6, 19), 0.5),
    (date(2024, 11, 20), date(2024, 11, 21), 0.6),
)
# Items per exchange: log-normal weights around the mean (sigma 1.6: most exchanges carry
# a few dozen records, a night's bulk transfer tens of thousands).
ITEMS_SIGMA: Final = 1.6


@dataclass(frozen=True, slots=True)
class ExchangeProfile:
    """A period of the platform's exchanges, its published totals and our choices."""

    name: str
    description: str
    first_day: date
    last_day: date
    items: int  # successful exchanges' items at scale 1
    items_figure: str
    providers: tuple[str, ...]
    consumers: tuple[str, ...]
    mean_items: int  # items per successful exchange (ours)
    published: tuple[str, ...]
    estimates: tuple[str, ...]
    provider_weights: Mapping[str, float] = field(default_factory=dict)

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=i)
                for i in range((self.last_day - self.first_day).days + 1)]


def _exchanges_2024() -> ExchangeProfile:
    items = figure("integration-data-items-2024-jan-nov")
    providers_fig, consumers_fig = figure("integration-providers-2024"), figure("integration-consumers-2024")
    catalogue = load_catalogue()
    consumers = (*catalogue.entities, *load_platform_members())
    if len(PROVIDERS) != providers_fig.value or len(consumers) != consumers_fig.value:
        raise ValueError("exchanges-2024: the members do not match the published 40/81")
    missing = [p for p in PROVIDERS if p not in catalogue.entities]
    if missing:
        raise ValueError(f"exchanges-2024: providers not in the catalogue: {missing}")
    return ExchangeProfile(
        name="exchanges-2024",
        description=("The national integration platform, January-November 2024: 471,193,222 "
                     "data items between 40 providers and 81 consumers (published, [003]); "
                     "items per exchange, pairs, products, hours, errors and unpaired "
                     "halves are our estimates."),
        first_day=items.period_from,
        last_day=items.period_to,
        items=items.value,
        items_figure=items.figure,
        providers=PROVIDERS,
        consumers=tuple(consumers),
        mean_items=250,
        published=(items.figure, providers_fig.figure, consumers_fig.figure),
        estimates=(
            "items per exchange (250 on average, log-normal)", "the split over days and hours",
            "which provider-consumer pairs exchange and how much", "the data products",
            "the error rate (1.5 %) and error classes",
            "unpaired halves (0.3 % consumer only, 0.1 % provider only) and mismatches (0.1 %)",
            "the 29 members outside the programme's catalogue (platform_members.csv)",
        ),
        provider_weights=PROVIDER_WEIGHTS,
    )


EXCHANGE_PROFILES: Final[Mapping[str, ExchangeProfile]] = MappingProxyType(
    {p.name: p for p in (_exchanges_2024(),)}
)


def is_exchange_profile(name: str) -> bool:
    return name in EXCHANGE_PROFILES


def get_exchange_profile(name: str) -> ExchangeProfile:
    try:
        return EXCHANGE_PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown exchange profile {name!r} "
                         f"(known: {', '.join(sorted(EXCHANGE_PROFILES))})") from None


@dataclass(frozen=True, slots=True)
class SimulatedExchange:
    """One half of an exchange as its reporter sends it.

    ``data`` is one exchange-contract object (no newline); ``signer`` is the entity that
    reports and signs the half (the provider for the provider's half, the consumer for
    the consumer's) and the key producers partition by.
    """

    data: bytes
    kind: HalfKind
    side: Side
    signer: str


# ---------------------------------------------------------------------------------------
# The fixed shape: pairs and products (independent of the seed).


def _pair_graph(profile: ExchangeProfile) -> Weighted[tuple[str, str]]:
    return Weighted(pair_weights(profile))


def pair_weights(profile: ExchangeProfile) -> list[tuple[tuple[str, str], float]]:
    """Which consumer reads which provider, and how much: each consumer reads 3-10
    providers, weighted by the provider's size and a fixed jitter so that a few pairs
    dominate (the registries the banks and the police read all day)."""
    rng = random.Random(f"tahawul-exchange-graph/{profile.name}")
    providers = profile.providers
    provider_w = Weighted((p, profile.provider_weights.get(p, 1.0)) for p in providers)
    pairs: list[tuple[tuple[str, str], float]] = []
    for consumer in profile.consumers:
        reads: set[str] = set()
        for _ in range(rng.randint(3, 10)):
            reads.add(provider_w.pick(rng))
        consumer_w = CONSUMER_WEIGHTS.get(consumer, 1.0) * rng.lognormvariate(0.0, 0.7)
        for provider in sorted(reads):
            if provider == consumer:
                continue
            w = profile.provider_weights.get(provider, 1.0) * consumer_w * rng.lognormvariate(0, 0.8)
            pairs.append(((provider, consumer), w))
    return pairs


def products_of(provider: str) -> tuple[str, ...]:
    return PRODUCTS.get(provider, (f"{provider}-REGISTRY", f"{provider}-STATUS"))


def _product_pickers(profile: ExchangeProfile) -> dict[str, Weighted[str]]:
    # Within a provider, the first product carries the most (Zipf 1).
    return {p: Weighted((code, 1.0 / (i + 1)) for i, code in enumerate(products_of(p)))
            for p in profile.providers}


def _coverage(profile: ExchangeProfile) -> list[tuple[str, str]]:
    """One (provider, consumer) pair per consumer, cycling the providers, so that every
    consumer and every provider is active at any scale."""
    providers = profile.providers
    out = []
    for i, consumer in enumerate(profile.consumers):
        provider = providers[i % len(providers)]
        if provider == consumer:
            provider = providers[(i + 1) % len(providers)]
        out.append((provider, consumer))
    return out


def _day_weights(profile: ExchangeProfile) -> list[int]:
    days = profile.days
    last = max(len(days) - 1, 1)
    weights = []
    for i, day in enumerate(days):
        factor = WEEKDAY_WEIGHTS[day.weekday()] * (0.9 + 0.2 * i / last)
        for first, final, lull in LULLS:
            if first <= day <= final:
                factor *= lull
        weights.append(round(factor * WEIGHT_RESOLUTION))
    return weights


# ---------------------------------------------------------------------------------------
# The plan: items and successful exchanges per day, exact for any scale.


@dataclass(frozen=True, slots=True)
class DayPlan:
    day: date
    items: int  # items of the day's successful exchanges
    exchanges: int  # successful exchanges
    coverage: tuple[tuple[str, str], ...]  # pairs the day must include


def plan_exchanges(profile: ExchangeProfile, scale: float | Decimal) -> list[DayPlan]:
    """Per day: the successful exchanges and their items. Raises ValueError on a scale
    too small to keep every provider and consumer active."""
    s = as_decimal(scale)
    if s <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    total = round_half_up(Decimal(profile.items) * s)
    days = profile.days
    items = largest_remainder(total, _day_weights(profile))
    coverage = _coverage(profile)
    by_day: dict[int, list[tuple[str, str]]] = {}
    for k, pair in enumerate(coverage):
        by_day.setdefault(k * len(days) // len(coverage), []).append(pair)
    plans = []
    for i, day in enumerate(days):
        cover = tuple(by_day.get(i, ()))
        n = max(min(items[i], round(items[i] / profile.mean_items)), len(cover))
        if items[i] and n == 0:
            n = 1
        if n > items[i]:
            raise ValueError(
                f"scale {scale} is too small for {profile.name}: {day} has {items[i]} items for "
                f"{len(cover)} exchanges that keep the 40/81 providers/consumers active")
        plans.append(DayPlan(day, items[i], n, cover))
    return plans


# ---------------------------------------------------------------------------------------
# The stream.


def _record(exchange_id: str, side: Side, provider: str, consumer: str, product: str,
            items: int, at: str, outcome: str) -> bytes:
    return orjson.dumps({
        "kind": "exchange",
        "schema_version": EXCHANGE_SCHEMA_VERSION,
        "exchange_id": exchange_id,
        "side": side,
        "provider": provider,
        "consumer": consumer,
        "product": product,
        "items": items,
        "occurred_at": at,
        "outcome": outcome,
    })


def _items_split(rng: random.Random, total: int, n: int) -> list[int]:
    """``total`` items over ``n`` exchanges, at least one each, log-normal sizes."""
    if n == 0:
        return []
    weights = [max(1, int(rng.lognormvariate(0.0, ITEMS_SIGMA) * 1000)) for _ in range(n)]
    return [1 + part for part in largest_remainder(total - n, weights)]


_Exchange = tuple[int, str, str, str, str, int, str]  # ms, id, provider, consumer, product, items, outcome


def _day_exchanges(profile: ExchangeProfile, plan: DayPlan, rng: random.Random,
                   pairs: Weighted[tuple[str, str]], products: Mapping[str, Weighted[str]],
                   hours: Weighted[int], errors: Weighted[str]) -> list[_Exchange]:
    sizes = _items_split(rng, plan.items, plan.exchanges)
    # The largest batches run at night: sort sizes so the night hours get the biggest.
    out: list[_Exchange] = []
    chosen = list(plan.coverage) + [pairs.pick(rng) for _ in range(plan.exchanges - len(plan.coverage))]
    for (provider, consumer), items in zip(chosen, sizes, strict=True):
        hour = hours.pick(rng)
        ms = hour * MS_PER_HOUR + rng.randrange(MS_PER_HOUR)
        out.append((ms, valid_event_id(rng), provider, consumer, products[provider].pick(rng),
                    items, "success"))
    failed = math.floor(plan.exchanges * ERROR_RATE + rng.random())
    for _ in range(failed):
        provider, consumer = pairs.pick(rng)
        ms = hours.pick(rng) * MS_PER_HOUR + rng.randrange(MS_PER_HOUR)
        out.append((ms, valid_event_id(rng), provider, consumer, products[provider].pick(rng),
                    rng.randint(1, 50), errors.pick(rng)))
    out.sort()
    return out


def iter_exchanges(profile: str, scale: float, seed: int) -> Iterator[SimulatedExchange]:
    """Stream a run's halves, one Muscat day at a time in ``occurred_at`` order. The
    arguments are checked now (the plan is built eagerly), the halves made lazily."""
    chosen = get_exchange_profile(profile)
    plans = plan_exchanges(chosen, scale)
    return _stream(chosen, plans, seed)


def _stream(profile: ExchangeProfile, plans: Sequence[DayPlan], seed: int) -> Iterator[SimulatedExchange]:
    pairs = _pair_graph(profile)
    products = _product_pickers(profile)
    hours = Weighted(enumerate(HOUR_WEIGHTS))
    errors = Weighted(ERROR_MIX.items())
    covered = {pair for plan in plans for pair in plan.coverage}
    for plan in plans:
        rng = random.Random(f"tahawul-exchanges/{seed}/{plan.day.isoformat()}")
        day_iso = plan.day.isoformat()
        halves: list[tuple[int, int, SimulatedExchange]] = []
        for ms, xid, provider, consumer, product, items, outcome in _day_exchanges(
                profile, plan, rng, pairs, products, hours, errors):
            # The provider logs the request a little after the consumer sent it.
            provider_ms = min(ms + rng.randrange(1, 800), 86_399_999)
            draw = rng.random()
            protected = outcome == "success" and (provider, consumer) in covered
            if protected or draw >= CONSUMER_ONLY_RATE + PROVIDER_ONLY_RATE:
                consumer_items = items
                if not protected and rng.random() < MISMATCH_RATE:
                    consumer_items = items + rng.randint(1, max(1, items // 10))
                halves.append((ms, 0, SimulatedExchange(
                    _record(xid, "consumer", provider, consumer, product, consumer_items,
                            occurred_at(day_iso, ms), outcome), "paired", "consumer", consumer)))
                halves.append((provider_ms, 1, SimulatedExchange(
                    _record(xid, "provider", provider, consumer, product, items,
                            occurred_at(day_iso, provider_ms), outcome), "paired", "provider", provider)))
            elif draw < CONSUMER_ONLY_RATE:
                halves.append((ms, 0, SimulatedExchange(
                    _record(xid, "consumer", provider, consumer, product, items,
                            occurred_at(day_iso, ms), outcome), "unmatched", "consumer", consumer)))
            else:
                halves.append((provider_ms, 1, SimulatedExchange(
                    _record(xid, "provider", provider, consumer, product, items,
                            occurred_at(day_iso, provider_ms), outcome), "unmatched", "provider", provider)))
        halves.sort(key=lambda h: (h[0], h[1]))
        for _, _, half in halves:
            yield half


# ---------------------------------------------------------------------------------------
# The truth: what a correct pipeline counts, from the emitted bytes.

EXCHANGE_TRUTH_HEADER: Final = ("day", "provider", "consumer", "product", "outcome", "exchanges", "items")


class ExchangeTruth:
    """Accumulates the expected counts of a run; feed it every half with :meth:`add`.

    Each exchange is counted once, from the provider's half when it arrives, else from the
    consumer's (the pairing rule of docs/exchanges.md).
    """

    def __init__(self) -> None:
        self._halves: dict[str, dict[str, object]] = {}
        self.halves = 0
        self.unmatched = 0

    def add(self, half: SimulatedExchange) -> None:
        self.halves += 1
        if half.kind == "unmatched":
            self.unmatched += 1
        record = orjson.loads(half.data)
        xid = str(record["exchange_id"])
        kept = self._halves.get(xid)
        if kept is None or record["side"] == "provider":
            self._halves[xid] = record

    def counts(self) -> dict[tuple[str, str, str, str, str], list[int]]:
        out: dict[tuple[str, str, str, str, str], list[int]] = {}
        for r in self._halves.values():
            key = (str(r["occurred_at"])[:10], str(r["provider"]), str(r["consumer"]),
                   str(r["product"]), str(r["outcome"]))
            cell = out.setdefault(key, [0, 0])
            cell[0] += 1
            cell[1] += int(str(r["items"]))
        return out

    @property
    def exchanges(self) -> int:
        return len(self._halves)

    def items(self, outcome: str = "success") -> int:
        return sum(c[1] for k, c in self.counts().items() if k[4] == outcome)

    def active(self) -> tuple[int, int]:
        """Distinct providers and consumers with at least one exchange."""
        keys = self.counts()
        return len({k[1] for k in keys}), len({k[2] for k in keys})

    def write_csv(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(EXCHANGE_TRUTH_HEADER)
            for key, (exchanges, items) in sorted(self.counts().items()):
                writer.writerow((*key, exchanges, items))


def run_exchange_simulation(profile: str, scale: float, seed: int, out: Path, truth: Path) -> ExchangeTruth:
    """Write every half of a run to ``out`` (one per line) and its truth to ``truth``
    (`tahawul simulate --profile exchanges-2024 --out ... --truth ...`)."""
    halves = iter_exchanges(profile, scale, seed)
    expected = ExchangeTruth()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as handle:
        for half in halves:
            handle.write(half.data)
            handle.write(b"\n")
            expected.add(half)
    expected.write_csv(truth)
    return expected
