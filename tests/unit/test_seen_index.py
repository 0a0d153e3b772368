"""The counting writer's compact index of counted events answers exactly as a dict keyed by
(entity, event_id) would: ids are per entity."""

from __future__ import annotations

import random
import uuid

import numpy as np
import pytest

from tahawul.stream_processors.seen import (
    _MIX,
    _MIX_TAG,
    CountedIndex,
    _key,
    entity_tag,
    entity_tags,
    uuid_halves,
)

ENTITIES = ["ROP", "MOH", "MOL", "TAX"]


def test_uuid_halves_are_the_128_bits_of_the_id() -> None:
    ids = [str(uuid.uuid4()) for _ in range(50)] + ["485E4DAC-E10B-46A1-BAF8-0E3308127E80"]
    hi, lo = uuid_halves(ids)
    for i, text in enumerate(ids):
        value = uuid.UUID(text).int
        assert (int(hi[i]), int(lo[i])) == (value >> 64, value & (2**64 - 1))
    with pytest.raises(ValueError):
        uuid_halves(["not-a-uuid"])
    with pytest.raises(ValueError):
        uuid_halves(["485e4dac-e10b-46a1-baf8-0e3308127g80"])


def test_index_agrees_with_a_dict_over_many_batches() -> None:
    rng = random.Random(1)
    index = CountedIndex()
    reference: dict[tuple[str, str], int] = {}
    for batch in range(200):
        keys = [(rng.choice(ENTITIES), str(uuid.UUID(int=rng.getrandbits(128))))
                for _ in range(rng.randrange(1, 600))]
        # Hand-made ids sharing 116 of their 128 bits, keys counted in earlier batches, and
        # their ids under another entity (another entity's id never matches).
        keys += [(rng.choice(ENTITIES), f"00000000-0000-4000-8000-{n:012x}")
                 for n in range(batch * 7, batch * 7 + 7)]
        earlier = rng.sample(sorted(reference), min(15, len(reference)))
        keys += earlier + [(ENTITIES[(ENTITIES.index(e) + 1) % 4], i) for e, i in earlier[:5]]
        hi, lo = uuid_halves([i for _, i in keys])
        tags = entity_tags([e for e, _ in keys])
        found, fingerprints = index.lookup(hi, lo, tags)
        for i, key in enumerate(keys):
            assert bool(found[i]) == (key in reference)
            if found[i]:
                assert int(fingerprints[i]) == reference[key]
        new = [i for i, k in enumerate(keys) if k not in reference and keys.index(k) == i]
        fps = np.array([rng.getrandbits(63) for _ in new], dtype=np.uint64)
        for i, fp in zip(new, fps.tolist(), strict=True):
            reference[keys[i]] = fp
        index.add(hi[new], lo[new], tags[new], fps)
    assert len(index) == len(reference)
    assert index.nbytes == 32 * len(reference)
    assert len(index._runs) <= 2 * len(reference).bit_length()  # merged into O(log n) runs
    for (entity, event_id), fp in list(reference.items())[:200]:
        assert index.get(entity, event_id) == fp
        assert (entity, event_id) in index
    assert index.get("ROP", str(uuid.uuid4())) is None


def test_one_id_of_two_entities_is_two_entries() -> None:
    """Issue 13 item 3: entity A sending B's event ids first must not make B's events
    duplicates or conflicts."""
    index = CountedIndex()
    event_id = "0f1e2d3c-0000-4000-8000-000000000001"
    hi, lo = uuid_halves([event_id])
    index.add(hi, lo, entity_tags(["ROP"]), np.array([7], dtype=np.uint64))
    assert index.get("ROP", event_id) == 7
    assert index.get("MOH", event_id) is None
    index.add(hi, lo, entity_tags(["MOH"]), np.array([8], dtype=np.uint64))
    assert (index.get("ROP", event_id), index.get("MOH", event_id)) == (7, 8)
    assert entity_tag("ROP") == entity_tag("ROP") != entity_tag("MOH")


def test_two_ids_with_the_same_sort_key_are_told_apart() -> None:
    hi = np.array([1, 2], dtype=np.uint64)
    lo = np.array([5, 7], dtype=np.uint64)
    # A third id whose mixed key equals the first one's: hi3 = key1 ^ (lo3 * K).
    lo3 = np.array([9], dtype=np.uint64)
    tag = entity_tags(["ROP"])
    tags = np.concatenate([tag, tag, tag])
    with np.errstate(over="ignore"):
        hi3 = _key(hi, lo, tags[:2])[:1] ^ (lo3 * _MIX) ^ (tag * _MIX_TAG)
    index = CountedIndex()
    index.add(np.concatenate([hi, hi3]), np.concatenate([lo, lo3]), tags,
              np.array([10, 20, 30], dtype=np.uint64))
    found, fps = index.lookup(np.concatenate([hi3, hi]), np.concatenate([lo3, lo]), tags)
    assert found.all() and fps.tolist() == [30, 10, 20]
    found, _ = index.lookup(hi3, np.array([11], dtype=np.uint64), tag)
    assert not found[0]
