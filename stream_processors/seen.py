"""The counting writer's index of counted events: (entity, event_id) -> content fingerprint.

Event ids are per entity (docs/security.md, "Event ids are per entity"): an id is the
producer's idempotency key, and one entity choosing an id never blocks, or learns about,
another entity's event with that id. Every event ever counted must be recognisable
(docs/exactly-once.md), so the index holds one entry per counted event for the life of the
store. A Python ``dict[tuple[str, str], int]`` costs about 230 bytes an entry; at national
volume, 27 million events a year, that is 6 GB a year. Here an entry is four unsigned
64-bit integers in numpy arrays (32 bytes):

- the UUID as two halves ``hi`` and ``lo`` (the 128 bits of the canonical form, exactly, so
  two ids are equal exactly when both halves are);
- the entity's tag, a 64-bit BLAKE2b digest of its code (entity codes come from the
  reference catalogue, a few hundred of them; :func:`entity_tags` refuses two with one tag);
- the 63-bit fingerprint.

Entries live in a few sorted runs ("levels", a log-structured merge): each committed batch
becomes a new run and runs of similar size are merged, so there are O(log n) of them and
each entry is moved O(log n) times. A run is sorted by ``key = hi XOR (lo * K) XOR (tag * J)``,
a mix of all three, so that ids with a shared prefix or suffix (sequential or hand-made ids)
still spread evenly; ``(key, lo, tag)`` determines ``hi``, so matching ``key``, ``lo`` and
``tag`` is matching the entity and the id. A lookup sorts the batch's keys and
binary-searches each run (``searchsorted``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd, so lo -> lo * K is a bijection mod 2**64
_MIX_TAG = np.uint64(0xC2B2AE3D27D4EB4F)
_NIBBLE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _NIBBLE[_c] = _i
for _i, _c in enumerate(b"ABCDEF", start=10):
    _NIBBLE[_c] = _i
# Positions of the 32 hex digits in the 36-character canonical form 8-4-4-4-12.
_HEX_AT = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])

Run = list[np.ndarray]  # [key, lo, tag, fingerprint], sorted by key
_TAGS: dict[str, int] = {}  # entity code -> tag
_CODES: dict[int, str] = {}  # tag -> entity code (to refuse two codes with one tag)


def entity_tag(entity: str) -> int:
    """The 64-bit tag of an entity code (BLAKE2b), stable across processes and versions."""
    tag = _TAGS.get(entity)
    if tag is None:
        tag = int.from_bytes(hashlib.blake2b(entity.encode(), digest_size=8).digest(), "big")
        other = _CODES.setdefault(tag, entity)
        if other != entity:
            raise ValueError(f"entity codes {other!r} and {entity!r} share a tag")
        _TAGS[entity] = tag
    return tag


def entity_tags(entities: Sequence[str]) -> np.ndarray:
    """uint64 tags of entity codes (a batch holds few distinct codes: one digest each)."""
    tags = {e: entity_tag(e) for e in set(entities)}
    return np.fromiter((tags[e] for e in entities), dtype=np.uint64, count=len(entities))


def uuid_halves(ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(hi, lo) uint64 arrays of canonical UUID strings (8-4-4-4-12 hex digits, any case)."""
    if not ids:
        empty = np.empty(0, dtype=np.uint64)
        return empty, empty.copy()
    raw = np.frombuffer("".join(ids).encode("ascii"), dtype=np.uint8)
    if raw.size != 36 * len(ids):
        raise ValueError("event ids must be canonical UUIDs of 36 characters")
    nibbles = _NIBBLE[raw.reshape(len(ids), 36)[:, _HEX_AT]]
    if (nibbles == 255).any():
        raise ValueError("event ids must be canonical UUIDs (hex digits)")
    # Two digits a byte, then each 8 bytes read as one big-endian integer.
    halves = np.ascontiguousarray((nibbles[:, 0::2] << 4) | nibbles[:, 1::2]).view(">u8").astype(np.uint64)
    return halves[:, 0].copy(), halves[:, 1].copy()


def pair_keys(hi: np.ndarray, lo: np.ndarray, tag: np.ndarray) -> np.ndarray:
    """The index's 64-bit key of each (entity tag, id): equal for equal pairs, and for two
    different pairs about once in 2**64 (callers that use it to find repeats must still
    compare the pairs themselves)."""
    with np.errstate(over="ignore"):
        return hi ^ (lo * _MIX) ^ (tag * _MIX_TAG)


_key = pair_keys


@dataclass(frozen=True, slots=True)
class SortedKeys:
    """A batch's index keys (:func:`pair_keys`, in batch order) and the stable order that
    sorts them: made once per batch and shared by the index lookup, the search for ids met
    twice (:func:`grouping.repeated`) and the run the batch adds to the index, where each
    used to sort the same keys again."""

    keys: np.ndarray
    order: np.ndarray


def sort_keys(hi: np.ndarray, lo: np.ndarray, tag: np.ndarray) -> SortedKeys:
    keys = pair_keys(hi, lo, tag)
    return SortedKeys(keys, np.argsort(keys, kind="stable"))


class CountedIndex:
    """(entity, event_id) -> fingerprint of every counted event; 32 bytes an entry."""

    def __init__(self) -> None:
        self._runs: list[Run] = []

    def __len__(self) -> int:
        return sum(len(run[0]) for run in self._runs)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for run in self._runs for a in run)

    def lookup(self, hi: np.ndarray, lo: np.ndarray, tag: np.ndarray,
               by_key: SortedKeys | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(found, fingerprint) per queried (entity tag, id); fingerprint is 0 where not found.
        ``by_key``: the queries' keys and their order, when the caller has them already."""
        n = len(hi)
        found = np.zeros(n, dtype=bool)
        fingerprints = np.zeros(n, dtype=np.uint64)
        if n == 0 or not self._runs:
            return found, fingerprints
        if by_key is None:
            by_key = sort_keys(hi, lo, tag)
        order = by_key.order
        # sorted: searchsorted walks each run once
        keys, los, tags = by_key.keys[order], lo[order], tag[order]
        for run_keys, run_lo, run_tag, run_fp in self._runs:
            at = np.searchsorted(run_keys, keys)
            inside = at < len(run_keys)
            clipped = np.where(inside, at, 0)
            same_key = inside & (run_keys[clipped] == keys)
            hit = same_key & (run_lo[clipped] == los) & (run_tag[clipped] == tags)
            found[order[hit]] = True
            fingerprints[order[hit]] = run_fp[clipped[hit]]
            # Two ids with one key (about 1 in 2**64 pairs): look at the rest of the key's run.
            for q in np.flatnonzero(same_key & ~hit).tolist():
                j = int(clipped[q]) + 1
                while j < len(run_keys) and run_keys[j] == keys[q]:
                    if run_lo[j] == los[q] and run_tag[j] == tags[q]:
                        found[order[q]] = True
                        fingerprints[order[q]] = run_fp[j]
                        break
                    j += 1
        return found, fingerprints

    def add(self, hi: np.ndarray, lo: np.ndarray, tag: np.ndarray, fingerprints: np.ndarray) -> None:
        """Add (entity tag, id) pairs not in the index yet (the writer adds each once)."""
        if len(hi) == 0:
            return
        keys = _key(hi, lo, tag)
        order = np.argsort(keys, kind="stable")
        self.add_sorted(keys[order], lo[order], tag.astype(np.uint64)[order],
                        fingerprints.astype(np.uint64)[order])

    def add_sorted(self, keys: np.ndarray, lo: np.ndarray, tag: np.ndarray, fingerprints: np.ndarray) -> None:
        """:meth:`add` for pairs given by key (:func:`pair_keys`), already sorted by it (the
        counting writer sorts a batch's keys once, for its lookup, its repeats and this)."""
        if len(keys) == 0:
            return
        self._runs.append([keys, lo, tag, fingerprints])
        # Binary-counter merging: never two runs where the older is not larger.
        while len(self._runs) > 1 and len(self._runs[-2][0]) <= len(self._runs[-1][0]):
            newer = self._runs.pop()
            self._runs[-1] = _merge(self._runs[-1], newer)

    def get(self, entity: str, event_id: str) -> int | None:
        """The fingerprint of one entity's id, or None (for tests and tools; batches use lookup)."""
        hi, lo = uuid_halves([event_id])
        found, fps = self.lookup(hi, lo, entity_tags([entity]))
        return int(fps[0]) if found[0] else None

    def __contains__(self, item: object) -> bool:
        """``(entity, event_id) in index``."""
        if not (isinstance(item, tuple) and len(item) == 2):
            return False
        entity, event_id = item
        return (isinstance(entity, str) and isinstance(event_id, str)
                and self.get(entity, event_id) is not None)


def _merge(a: Run, b: Run) -> Run:
    """Merge sorted run b into sorted run a in O(len(a) + len(b) log len(a)). One array at a
    time, releasing each old one as its merged copy is made: the peak is one extra array."""
    at = np.searchsorted(a[0], b[0], side="right") + np.arange(len(b[0]))
    size = len(a[0]) + len(b[0])
    from_a = np.ones(size, dtype=bool)
    from_a[at] = False
    for i in range(len(a)):
        out = np.empty(size, dtype=np.uint64)
        out[at] = b[i]
        out[from_a] = a[i]
        a[i] = out
    return a
