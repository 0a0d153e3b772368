"""The validating worker's step for exchange halves (schemas/exchange.py).

An exchange half travels like a control total: it has a field no event has (``kind``), so
the event contract refuses it as ``unknown_field`` and only then is it looked at as an
exchange (valid events pay nothing for the other kinds). A valid half must be signed by the
party that reports it: the provider for ``side=provider``, the consumer for
``side=consumer`` (or a gateway trusted for that party). So a consumer cannot forge the
provider's half, nor a provider the consumer's, nor a third entity either. A valid half
becomes a verdict row in :class:`schemas.verdict.EXCHANGE` order with ``valid`` None (it
rides in the envelope's ``totals`` beside control totals, told apart by its length).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, Protocol

from tahawul.schemas import exchange
from tahawul.schemas.event import InvalidEvent, decode
from tahawul.schemas.reference import Catalogue
from tahawul.schemas.signing import Trust
from tahawul.schemas.verdict import EXCHANGE

ROW_LENGTH: Final = len(EXCHANGE)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_PARTIES: dict[int, tuple[Catalogue, frozenset[str]]] = {}  # id(catalogue) -> party codes


class Judging(Protocol):
    """What this step uses of the worker's judge (stream_processors/validation.py)."""

    catalogue: Catalogue
    now: datetime
    signatures: Trust | None
    value: bytes | None
    offset: int
    out: list[Any]

    def check_signature(self, signatures: Trust, value: bytes, entity: str) -> None: ...

    def reject(self, index: int | None, payload: bytes | None, exc: InvalidEvent) -> None: ...


def parties_of(catalogue: Catalogue) -> frozenset[str]:
    """The party codes for ``catalogue``, computed once per catalogue (this runs per half)."""
    known = _PARTIES.get(id(catalogue))
    if known is None or known[0] is not catalogue:
        known = _PARTIES[id(catalogue)] = (catalogue, exchange.parties(catalogue))
    return known[1]


def exchange_row(offset: int, half: exchange.Exchange) -> list[Any]:
    """The verdict row of a valid half, in :class:`schemas.verdict.EXCHANGE` order."""
    since = half.occurred_at - _EPOCH
    occurred_ms = (since.days * 86_400 + since.seconds) * 1000 + since.microseconds // 1000
    return [offset, half.exchange_id, half.side, half.provider, half.consumer, half.product,
            half.items, half.outcome, occurred_ms, half.fingerprint(), exchange.KIND]


def is_exchange_row(row: list[Any]) -> bool:
    """Whether a row under an envelope's ``totals`` is an exchange half (else a control total)."""
    return len(row) == ROW_LENGTH and row[EXCHANGE.KIND] == exchange.KIND


def judge_exchange(judge: Judging, index: int | None, payload: bytes | None) -> bool:
    """Judge ``payload`` as an exchange half if it says it is one (False if not): valid and
    signed by its reporter, or rejected with its reason (and dead-lettered by ``reject``)."""
    obj = decode(payload)
    if not exchange.is_exchange(obj):
        return False
    try:
        half = exchange.validate(obj, judge.catalogue, judge.now, parties_of(judge.catalogue))
        signatures, value = judge.signatures, judge.value
        if signatures is not None and value is not None:
            judge.check_signature(signatures, value, half.reporter)
    except InvalidEvent as exc:
        judge.reject(index, payload, exc)
    else:
        judge.out.append((judge.offset, None, exchange_row(judge.offset, half)))
    return True
