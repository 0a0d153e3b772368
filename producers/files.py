"""Reading event files (JSONL): one payload per line, with its line number."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def iter_jsonl(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, payload) for every non-blank line, streaming in constant memory."""
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            payload = line.rstrip(b"\r\n")
            if payload.strip():
                yield number, payload
