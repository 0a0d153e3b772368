"""What `tahawul up` shows: a live view while running and the totals at the end."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from tahawul.runtime.rates import EventRate
from tahawul.schemas.reference import load_catalogue

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

    from tahawul.runtime.local import Run

TOTALS_SQL = """
SELECT governorate,
       sumIf(transactions, mode = 'digital') AS digital,
       sumIf(transactions, mode = 'manual') AS manual,
       min(day) AS first_day, max(day) AS last_day
FROM v_counts_daily GROUP BY governorate ORDER BY governorate
"""


def totals_table(client: Client) -> str:
    """Completed transactions per governorate from the published view, as plain text."""
    rows = client.query(TOTALS_SQL).result_rows
    names = {code: g.name_en for code, g in load_catalogue().governorates.items()}
    lines = [f"{'governorate':<22}{'code':<7}{'digital':>10}{'manual':>10}{'digital share':>15}"]
    total_d = total_m = 0
    first = last = None
    for code, digital, manual, d0, d1 in rows:
        share = digital / (digital + manual) if digital + manual else 0.0
        lines.append(f"{names.get(code, code):<22}{code:<7}{digital:>10}{manual:>10}{share:>15.1%}")
        total_d += digital
        total_m += manual
        first = d0 if first is None else min(first, d0)
        last = d1 if last is None else max(last, d1)
    share = total_d / (total_d + total_m) if total_d + total_m else 0.0
    lines.append(f"{'all governorates':<29}{total_d:>10}{total_m:>10}{share:>15.1%}")
    span = f"{first} .. {last}" if first is not None else "none yet"
    lines.insert(0, f"completed transactions in v_counts_daily, {span}")
    return "\n".join(lines)


class LiveView:
    """Digital share per governorate, events/s and rejected count, refreshed in place on a
    terminal; a progress line every few seconds otherwise (CI, pipes)."""

    def __init__(self, run: Run, started: float, out: TextIO, meter: EventRate | None = None) -> None:
        self.run = run
        self.started = started
        self.out = out
        self.tty = out.isatty()
        self.live: Live | None = None
        self._last_line = 0.0
        self.meter = meter or EventRate()

    def __enter__(self) -> LiveView:
        if self.tty:
            self.live = Live(self._table(), console=Console(file=self.out), refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    @property
    def rate(self) -> float:
        """Events applied per second over the last seconds (tahawul.runtime.rates)."""
        return self.meter.rate()

    def _measure(self) -> None:
        self.meter.sample(self.run.applied)

    def _table(self) -> Table:
        run = self.run
        names = {code: g.name_en for code, g in load_catalogue().governorates.items()}
        table = Table(title=(f"tahawul - {self.rate:,.0f} events/s - counted {run.counted:,} - "
                             f"duplicates {run.duplicates:,} - rejected {run.rejected:,}"))
        for col in ("governorate", "digital", "manual", "digital share"):
            table.add_column(col, justify="left" if col == "governorate" else "right")
        with run.lock:
            completed = dict(run.completed)
        for code in sorted(names):
            d = completed.get((code, "digital"), 0)
            m = completed.get((code, "manual"), 0)
            share = f"{d / (d + m):.1%}" if d + m else "-"
            table.add_row(names[code], f"{d:,}", f"{m:,}", share)
        return table

    def refresh(self) -> None:
        self._measure()
        if self.live is not None:
            self.live.update(self._table())
            return
        now = time.monotonic()
        if now - self._last_line >= 5.0:
            self._last_line = now
            run = self.run
            print(f"[{now - self.started:6.1f}s] sent {run.fed:,}, counted {run.counted:,}, "
                  f"duplicates {run.duplicates:,}, rejected {run.rejected:,}, "
                  f"{self.rate:,.0f} events/s", file=sys.stderr)
