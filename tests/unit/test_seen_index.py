"""The counting writer's compact index of counted events answers exactly as a dict would."""

from __future__ import annotations

import random
import uuid

import numpy as np
import pytest

from tahawul.stream_processors.seen import _MIX, CountedIndex, _key, uuid_halves


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
    reference: dict[str, int] = {}
    for batch in range(200):
        ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(rng.randrange(1, 600))]
        # Hand-made ids sharing 116 of their 128 bits, and ids counted in earlier batches.
        ids += [f"00000000-0000-4000-8000-{n:012x}" for n in range(batch * 7, batch * 7 + 7)]
        ids += rng.sample(sorted(reference), min(15, len(reference)))
        hi, lo = uuid_halves(ids)
        found, fingerprints = index.lookup(hi, lo)
        for i, event_id in enumerate(ids):
            assert bool(found[i]) == (event_id in reference)
            if found[i]:
                assert int(fingerprints[i]) == reference[event_id]
        new = [i for i, e in enumerate(ids) if e not in reference and ids.index(e) == i]
        fps = np.array([rng.getrandbits(63) for _ in new], dtype=np.uint64)
        for i, fp in zip(new, fps.tolist(), strict=True):
            reference[ids[i]] = fp
        index.add(hi[new], lo[new], fps)
    assert len(index) == len(reference)
    assert index.nbytes == 24 * len(reference)
    assert len(index._runs) <= 2 * len(reference).bit_length()  # merged into O(log n) runs
    for event_id, fp in list(reference.items())[:200]:
        assert index.get(event_id) == fp
        assert event_id in index
    assert index.get(str(uuid.uuid4())) is None


def test_two_ids_with_the_same_sort_key_are_told_apart() -> None:
    hi = np.array([1, 2], dtype=np.uint64)
    lo = np.array([5, 7], dtype=np.uint64)
    # A third id whose mixed key equals the first one's: hi3 = key1 ^ (lo3 * K).
    lo3 = np.array([9], dtype=np.uint64)
    with np.errstate(over="ignore"):
        hi3 = _key(hi, lo)[:1] ^ (lo3 * _MIX)
    index = CountedIndex()
    index.add(np.concatenate([hi, hi3]), np.concatenate([lo, lo3]), np.array([10, 20, 30], dtype=np.uint64))
    found, fps = index.lookup(np.concatenate([hi3, hi]), np.concatenate([lo3, lo]))
    assert found.all() and fps.tolist() == [30, 10, 20]
    found, _ = index.lookup(hi3, np.array([11], dtype=np.uint64))
    assert not found[0]
