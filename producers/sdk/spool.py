"""A bounded write-ahead spool on local disk: events wait here until the broker acknowledges them.

Every event is appended to a segment file and fsynced *before* it is handed to Kafka, so
an event the SDK accepted survives a broker outage, a crash or a restart of the producing
process; acknowledged entries are marked in a sidecar file and whole segments are deleted
once all their entries are acknowledged. On start the unacknowledged entries are found
again and delivered first, in the order they were written. Delivering one twice (its
acknowledgement was lost in a crash) is harmless: the pipeline counts each event_id once.

Layout of the spool directory::

    .lock                     held (flock) by the one process using the spool
    00000000000000000000.seg  entries, named by the sequence number of its first entry
    00000000000000000000.ack  sequence numbers (8 bytes each) of its acknowledged entries

An entry is ``crc32 | seq | key length | value length | key | value`` (little endian,
CRC over everything after it). A torn entry at the end of the newest segment (a crash
mid-write, before the caller was told the event was accepted) is cut off on open.

The spool is bounded in bytes: :meth:`Spool.append` raises :class:`SpoolFull`, writing
nothing, rather than grow past ``max_bytes``.
"""

from __future__ import annotations

import bisect
import fcntl
import logging
import os
import struct
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

_HEADER: Final = struct.Struct("<IQHI")  # crc32, seq, key length, value length
_SEQ: Final = struct.Struct("<Q")
_SUFFIX_SEG: Final = ".seg"
_SUFFIX_ACK: Final = ".ack"


class SpoolError(RuntimeError):
    """The spool cannot be used as asked; the message says why and where."""


class SpoolFull(SpoolError):
    """Appending would take the spool past its byte bound; nothing was written."""


class SpoolLocked(SpoolError):
    """Another process is using this spool directory."""


@dataclass(slots=True)
class _Segment:
    first_seq: int
    path: Path
    count: int = 0
    size: int = 0
    acked: bytearray = field(default_factory=bytearray)  # one bit per entry
    acked_count: int = 0
    sealed: bool = False

    @property
    def ack_path(self) -> Path:
        return self.path.with_suffix(_SUFFIX_ACK)

    def is_acked(self, seq: int) -> bool:
        i = seq - self.first_seq
        return i < 8 * len(self.acked) and bool(self.acked[i >> 3] & (1 << (i & 7)))

    def mark(self, seq: int) -> bool:
        """Set the bit of ``seq``; True if it was not set before."""
        i = seq - self.first_seq
        if i >> 3 >= len(self.acked):
            self.acked.extend(bytes((i >> 3) - len(self.acked) + 1))
        bit = 1 << (i & 7)
        if self.acked[i >> 3] & bit:
            return False
        self.acked[i >> 3] |= bit
        self.acked_count += 1
        return True


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position for reading: the segment (by its first seq) and a byte offset in it."""

    segment: int
    offset: int


def _encode(seq: int, key: bytes, value: bytes) -> bytes:
    body = _HEADER.pack(0, seq, len(key), len(value))[4:] + key + value
    return struct.pack("<I", zlib.crc32(body)) + body


class Spool:
    def __init__(self, directory: Path, max_bytes: int = 1 << 30, segment_bytes: int = 16 << 20,
                 fsync: bool = True) -> None:
        if max_bytes < 64 * 1024:
            raise SpoolError("a spool needs at least 64 KiB (max_bytes)")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = max(16 * 1024, min(segment_bytes, max_bytes // 4))
        self.fsync = fsync
        self._lock = threading.Lock()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise SpoolLocked(f"spool {self.directory} is in use by another process") from None
        self._segments: list[_Segment] = []
        self._firsts: list[int] = []
        self._ack_fds: dict[int, int] = {}
        self._write_fd = -1
        self._closed = False
        try:
            self._load()
        except BaseException:
            os.close(self._lock_fd)
            raise

    # -- opening -------------------------------------------------------------------------

    def _load(self) -> None:
        paths = sorted(self.directory.glob("*" + _SUFFIX_SEG))
        for n, path in enumerate(paths):
            last = n == len(paths) - 1
            seg = self._scan(path, last)
            seg.sealed = not last
            self._segments.append(seg)
        for stray in self.directory.glob("*" + _SUFFIX_ACK):
            if not stray.with_suffix(_SUFFIX_SEG).exists():
                stray.unlink()
        for seg in list(self._segments):
            self._read_acks(seg)
        next_seq = 0
        tail: _Segment | None = None
        if self._segments:
            tail = self._segments[-1]
            next_seq = tail.first_seq + tail.count
        # Fully acknowledged segments are of no further use; the newest too, on open.
        for seg in list(self._segments):
            if seg.acked_count == seg.count:
                self._drop(seg)
        self._firsts = [s.first_seq for s in self._segments]
        if tail is not None and self._segments and self._segments[-1] is tail \
                and tail.size < self.segment_bytes:
            self._write_fd = os.open(tail.path, os.O_WRONLY | os.O_APPEND)
        else:
            for seg in self._segments:
                seg.sealed = True
            self._new_segment(next_seq)
        pending = self.pending()
        if pending:
            log.info("spool %s: %d events not yet acknowledged by the broker", self.directory, pending)

    def _scan(self, path: Path, last: bool) -> _Segment:
        first = int(path.stem)
        seg = _Segment(first, path)
        data = path.read_bytes()
        pos = 0
        while pos < len(data):
            if pos + _HEADER.size > len(data):
                break
            crc, seq, klen, vlen = _HEADER.unpack_from(data, pos)
            end = pos + _HEADER.size + klen + vlen
            if end > len(data) or zlib.crc32(data[pos + 4:end]) != crc or seq != first + seg.count:
                break
            seg.count += 1
            pos = end
        if pos < len(data):
            if not last:
                raise SpoolError(
                    f"spool segment {path} is damaged at byte {pos} (not its last entry); "
                    "move it aside to continue, its events after that byte are not recoverable")
            log.warning("spool %s: cutting a torn entry at byte %d (it was never acknowledged "
                        "to the caller)", path, pos)
            with path.open("r+b") as fh:
                fh.truncate(pos)
                os.fsync(fh.fileno())
        seg.size = pos
        return seg

    def _read_acks(self, seg: _Segment) -> None:
        try:
            raw = seg.ack_path.read_bytes()
        except FileNotFoundError:
            return
        usable = len(raw) - len(raw) % _SEQ.size
        for (seq,) in _SEQ.iter_unpack(raw[:usable]):
            if seg.first_seq <= seq < seg.first_seq + seg.count:
                seg.mark(seq)

    def _new_segment(self, first_seq: int) -> None:
        path = self.directory / f"{first_seq:020d}{_SUFFIX_SEG}"
        self._write_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new file's name is durable too
        finally:
            os.close(dir_fd)
        seg = _Segment(first_seq, path)
        self._segments.append(seg)
        self._firsts.append(first_seq)

    def _drop(self, seg: _Segment) -> None:
        fd = self._ack_fds.pop(seg.first_seq, None)
        if fd is not None:
            os.close(fd)
        seg.path.unlink(missing_ok=True)
        seg.ack_path.unlink(missing_ok=True)
        self._segments.remove(seg)
        self._firsts = [s.first_seq for s in self._segments]

    # -- writing -------------------------------------------------------------------------

    def append(self, records: Sequence[tuple[bytes, bytes]]) -> list[int]:
        """Durably append (key, value) records; return their sequence numbers.

        All or nothing: raises :class:`SpoolFull` without writing if they do not fit."""
        if not records:
            return []
        with self._lock:
            self._check_open()
            tail = self._segments[-1]
            seq = tail.first_seq + tail.count
            blob = b"".join(_encode(seq + i, k, v) for i, (k, v) in enumerate(records))
            if self.size() + len(blob) > self.max_bytes:
                raise SpoolFull(
                    f"spool {self.directory} is full: {self.size()} of {self.max_bytes} bytes hold "
                    f"{self.pending()} events the broker has not acknowledged; {len(records)} more "
                    f"({len(blob)} bytes) do not fit. Restore the connection to Kafka (or raise "
                    "spool_max_bytes); nothing of this call was accepted.")
            os.write(self._write_fd, blob)
            if self.fsync:
                os.fsync(self._write_fd)
            tail.count += len(records)
            tail.size += len(blob)
            if tail.size >= self.segment_bytes:
                tail.sealed = True
                os.close(self._write_fd)
                self._new_segment(seq + len(records))
            return list(range(seq, seq + len(records)))

    def ack(self, seq: int) -> None:
        """Mark an entry acknowledged by the broker (idempotent, any thread, any order)."""
        with self._lock:
            if self._closed:
                return
            i = bisect.bisect_right(self._firsts, seq) - 1
            if i < 0:
                return
            seg = self._segments[i]
            if seq >= seg.first_seq + seg.count or not seg.mark(seq):
                return
            if seg.sealed and seg.acked_count == seg.count:
                self._drop(seg)
                return
            fd = self._ack_fds.get(seg.first_seq)
            if fd is None:
                fd = os.open(seg.ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                self._ack_fds[seg.first_seq] = fd
            # Not fsynced: a lost acknowledgement only means a harmless re-delivery.
            os.write(fd, _SEQ.pack(seq))

    # -- reading -------------------------------------------------------------------------

    def start(self) -> Cursor:
        """A cursor at the oldest entry still in the spool."""
        with self._lock:
            return Cursor(self._segments[0].first_seq, 0)

    def read(self, cursor: Cursor, limit: int = 500) -> tuple[list[Entry], Cursor]:
        """Up to ``limit`` unacknowledged entries from ``cursor`` on, and the cursor after them."""
        out: list[Entry] = []
        with self._lock:
            self._check_open()
            i = bisect.bisect_left(self._firsts, cursor.segment)
            if i == len(self._firsts):
                i = len(self._firsts) - 1
            if self._firsts[i] != cursor.segment:
                # The cursor's segment was dropped (all of it acknowledged): go on at the next.
                cursor = Cursor(self._firsts[i], 0)
            plan = [(s, s.size) for s in self._segments[i:]]
        offset = cursor.offset
        for n, (seg, size) in enumerate(plan):
            if n > 0:
                offset = 0
            if offset >= size:
                if seg.sealed and n + 1 < len(plan):
                    continue
                return out, Cursor(seg.first_seq, offset)
            try:
                with seg.path.open("rb") as fh:
                    fh.seek(offset)
                    data = fh.read(min(size - offset, 4 << 20))
            except FileNotFoundError:  # dropped meanwhile: every entry in it is acknowledged
                continue
            pos = 0
            while pos + _HEADER.size <= len(data) and len(out) < limit:
                _crc, seq, klen, vlen = _HEADER.unpack_from(data, pos)
                end = pos + _HEADER.size + klen + vlen
                if end > len(data):
                    break
                if not seg.is_acked(seq):
                    start = pos + _HEADER.size
                    out.append(Entry(seq, data[start:start + klen], data[start + klen:end]))
                pos = end
            offset += pos
            if len(out) >= limit or offset < size:
                return out, Cursor(seg.first_seq, offset)
        last, last_size = plan[-1]  # the sizes seen under the lock, not the live ones
        return out, Cursor(last.first_seq, last_size)

    # -- state ---------------------------------------------------------------------------

    def pending(self) -> int:
        """Entries not yet acknowledged."""
        return sum(s.count - s.acked_count for s in list(self._segments))

    def size(self) -> int:
        """Bytes of the segment files still held."""
        return sum(s.size for s in list(self._segments))

    def _check_open(self) -> None:
        if self._closed:
            raise SpoolError(f"spool {self.directory} is closed")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._write_fd >= 0:
                os.close(self._write_fd)
            for fd in self._ack_fds.values():
                os.close(fd)
            self._ack_fds.clear()
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
