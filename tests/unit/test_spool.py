"""The SDK's write-ahead spool: durable order, acknowledgements, bound, torn tails, restarts."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tahawul.producers.sdk.spool import Cursor, Spool, SpoolError, SpoolFull, SpoolLocked


def drain(spool: Spool, cursor: Cursor | None = None, limit: int = 7) -> list[int]:
    cursor = cursor or spool.start()
    seqs: list[int] = []
    while True:
        entries, cursor = spool.read(cursor, limit)
        if not entries:
            return seqs
        seqs.extend(e.seq for e in entries)


def test_entries_come_back_in_order_and_acked_ones_are_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path, fsync=False)
    seqs = spool.append([(b"ROP", f"v{i}".encode()) for i in range(20)])
    assert seqs == list(range(20))
    for s in (0, 3, 4, 19):
        spool.ack(s)
    spool.ack(3)  # twice is harmless
    entries, _ = spool.read(spool.start(), 100)
    assert [e.seq for e in entries] == [s for s in range(20) if s not in (0, 3, 4, 19)]
    assert entries[0].key == b"ROP" and entries[0].value == b"v1"
    assert spool.pending() == 16
    spool.close()


def test_unacknowledged_entries_survive_reopen_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=16 * 1024)
    for _ in range(30):  # several segments (a call's entries share one)
        spool.append([(b"MOH", b"x" * 200) for _ in range(10)])
    assert len(list(tmp_path.glob("*.seg"))) > 3
    for s in range(0, 300, 2):
        spool.ack(s)
    spool.close()
    again = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=16 * 1024)
    assert again.pending() == 150
    assert drain(again) == list(range(1, 300, 2))
    assert again.append([(b"MOH", b"y")]) == [300]  # sequence numbers go on
    again.close()


def test_fully_acknowledged_segments_are_deleted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=16 * 1024)
    for _ in range(20):
        spool.append([(b"k", b"x" * 500) for _ in range(10)])
    segments_before = len(list(tmp_path.glob("*.seg")))
    assert segments_before > 3
    for s in range(200):
        spool.ack(s)
    assert spool.pending() == 0
    assert len(list(tmp_path.glob("*.seg"))) == 1  # only the one still being written
    spool.close()
    reopened = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=16 * 1024)
    assert reopened.pending() == 0 and reopened.size() == 0
    reopened.close()


def test_a_full_spool_refuses_the_whole_call_and_frees_up_after_acks(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=64 * 1024, segment_bytes=16 * 1024, fsync=False)
    n = 0
    with pytest.raises(SpoolFull, match="is full"):
        while True:
            spool.append([(b"k", b"x" * 1000)])
            n += 1
    assert spool.pending() == n
    with pytest.raises(SpoolFull):
        spool.append([(b"k", b"x" * 1000)])
    for s in range(n):
        spool.ack(s)
    assert spool.append([(b"k", b"x" * 1000)]) == [n]
    spool.close()


def test_a_torn_tail_is_cut_and_earlier_entries_kept(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([(b"k", f"{i}".encode()) for i in range(5)])
    spool.close()
    (seg,) = tmp_path.glob("*.seg")
    data = seg.read_bytes()
    seg.write_bytes(data + data[:10])  # half of an entry, as a crash mid-write leaves it
    reopened = Spool(tmp_path)
    assert [e.value for e in reopened.read(reopened.start(), 100)[0]] == [b"0", b"1", b"2", b"3", b"4"]
    assert reopened.append([(b"k", b"5")]) == [5]
    reopened.close()
    assert Spool(tmp_path).pending() == 6


def test_damage_inside_a_sealed_segment_is_an_error(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=16 * 1024)
    for _ in range(10):
        spool.append([(b"k", b"x" * 500) for _ in range(10)])
    spool.close()
    first = sorted(tmp_path.glob("*.seg"))[0]
    raw = bytearray(first.read_bytes())
    raw[600] ^= 0xFF
    first.write_bytes(bytes(raw))
    with pytest.raises(SpoolError, match="damaged"):
        Spool(tmp_path, max_bytes=1 << 20, segment_bytes=16 * 1024)


def test_one_process_at_a_time(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    with pytest.raises(SpoolLocked, match="in use"):
        Spool(tmp_path)
    spool.close()
    Spool(tmp_path).close()


def test_a_reader_racing_a_writer_sees_every_entry_once(tmp_path: Path) -> None:
    """The delivery thread reads while send() appends; nothing may be skipped or repeated."""
    spool = Spool(tmp_path, max_bytes=1 << 24, segment_bytes=32 * 1024, fsync=False)
    total = 5000
    done = threading.Event()

    def write() -> None:
        for i in range(0, total, 5):
            spool.append([(b"k", b"v" * (i % 97)) for _ in range(5)])
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    seen: list[int] = []
    cursor = spool.start()
    while len(seen) < total:
        entries, cursor = spool.read(cursor, 13)
        seen.extend(e.seq for e in entries)
        for e in entries:
            spool.ack(e.seq)
        if not entries and done.is_set() and len(seen) < total:
            entries, cursor = spool.read(cursor, 13)
            assert entries, f"reader stuck at {len(seen)} of {total}"
            seen.extend(e.seq for e in entries)
            for e in entries:
                spool.ack(e.seq)
    writer.join()
    assert seen == list(range(total))
    assert spool.pending() == 0
    spool.close()
