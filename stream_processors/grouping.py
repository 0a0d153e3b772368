"""Group-by and repeat-finding over numpy columns, for the counting writer's batches.

The writer counts a batch's events by cell (source partition, minute, governorate, entity,
service, channel, mode, status) and looks for ids that occur twice in it. Done with a
Python tuple or dict entry per event this was a third of its time; here each column is a
small integer code (a position in a dictionary of the batch's distinct values), the codes
of a row are folded into one int64, and numpy groups those.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_INT64_MAX = 2**63 - 1


def group(codes: Sequence[np.ndarray], sizes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(first, inverse) of the distinct rows of ``codes`` (one array a column, each value in
    ``0 <= code < size``): ``first[g]`` is the position of group g's first row and
    ``inverse[i]`` the group of row i. Groups are ordered by their codes."""
    n = len(codes[0])
    if n == 0:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty.copy()
    span = 1
    for size in sizes:
        span *= max(int(size), 1)
    if span <= _INT64_MAX:  # one integer a row: mixed radix
        key = np.zeros(n, dtype=np.int64)
        for column, size in zip(codes, sizes, strict=True):
            key *= max(int(size), 1)
            key += column.astype(np.int64, copy=False)
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    else:  # too many combinations for one integer: rows of codes
        rows = np.stack([c.astype(np.int64, copy=False) for c in codes], axis=1)
        _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def repeated(keys: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """Mask of the positions whose key occurs more than once in ``keys``; ``order``: an
    order that sorts ``keys``, when the caller has one already."""
    out = np.zeros(len(keys), dtype=bool)
    if len(keys) < 2:
        return out
    if order is None:
        order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    same = ordered[1:] == ordered[:-1]
    if same.any():
        out[order[1:][same]] = True
        out[order[:-1][same]] = True
    return out
