"""What Grafana does to a ClickHouse panel's SQL before the server sees it.

First the front end substitutes dashboard variables (``$name``, ``${name}`` and
``${name:sqlstring}``, which quotes with doubled single quotes); then the plugin's back end
(grafana/clickhouse-datasource, pkg/macros) expands its macros, with the same output text:
``$__timeFilter(c)`` is ``c >= toDateTime(<from>) AND c <= toDateTime(<to>)`` in Unix
seconds, ``$__timeInterval(c)`` is ``toStartOfInterval(toDateTime(c), INTERVAL <n> second)``,
and so on. Tests run the result against chDB; ``tahawul report`` runs it too, so its
numbers are the dashboards' numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class QueryContext:
    start: datetime
    end: datetime
    interval_seconds: int = 86400
    variables: Mapping[str, str] = field(default_factory=dict)


_VAR = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")


def substitute_variables(sql: str, variables: Mapping[str, str]) -> str:
    """Grafana's template substitution; names it does not know (macros) are left alone."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        if name not in variables:
            return match.group(0)
        value = variables[name]
        fmt = match.group(2)
        if fmt == "sqlstring":
            return "'" + value.replace("'", "''") + "'"
        if fmt not in (None, "raw"):
            raise ValueError(f"variable format {fmt!r} is not used by tahawul's dashboards")
        return value

    return _VAR.sub(replace, sql)


def _seconds(t: datetime) -> str:
    return f"toDateTime({int(t.timestamp())})"


def _millis(t: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(t.timestamp() * 1000)})"


def _one(args: list[str]) -> str:
    if len(args) != 1:
        raise ValueError(f"macro expects 1 argument, got {len(args)}")
    return args[0]


def _macros(ctx: QueryContext) -> dict[str, Callable[[list[str]], str]]:
    s, e, n = ctx.start, ctx.end, max(ctx.interval_seconds, 1)
    return {
        "fromTime": lambda a: _seconds(s),
        "toTime": lambda a: _seconds(e),
        "fromTime_ms": lambda a: _millis(s),
        "toTime_ms": lambda a: _millis(e),
        "timeFilter": lambda a: f"{_one(a)} >= {_seconds(s)} AND {_one(a)} <= {_seconds(e)}",
        "timeFilter_ms": lambda a: f"{_one(a)} >= {_millis(s)} AND {_one(a)} <= {_millis(e)}",
        "dateFilter": lambda a: (f"{_one(a)} >= toDate('{s:%Y-%m-%d}') AND "
                                 f"{_one(a)} <= toDate('{e:%Y-%m-%d}')"),
        "timeInterval": lambda a: f"toStartOfInterval(toDateTime({_one(a)}), INTERVAL {n} second)",
        "timeInterval_ms": lambda a: (f"toStartOfInterval(toDateTime64({_one(a)}, 3), "
                                      f"INTERVAL {n * 1000} millisecond)"),
        "interval_s": lambda a: str(n),
    }


_MACRO = re.compile(r"\$__(\w+)")


def _arguments(sql: str, open_at: int) -> tuple[list[str], int]:
    """Comma-separated arguments of the parenthesis at ``open_at``, and the index after it."""
    depth, start, args = 0, open_at + 1, []
    for i in range(open_at, len(sql)):
        ch = sql[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[start:i].strip())
                return [a for a in args if a], i + 1
        elif ch == "," and depth == 1:
            args.append(sql[start:i].strip())
            start = i + 1
    raise ValueError(f"unclosed macro arguments at {open_at}")


def expand_macros(sql: str, ctx: QueryContext) -> str:
    """The plugin's macro expansion; an unknown ``$__name`` is an error, as in Grafana."""
    macros = _macros(ctx)
    out, pos = [], 0
    while (match := _MACRO.search(sql, pos)) is not None:
        name = match.group(1)
        if name not in macros:
            raise ValueError(f"unknown macro $__{name}")
        out.append(sql[pos:match.start()])
        end = match.end()
        args: list[str] = []
        if end < len(sql) and sql[end] == "(":
            args, end = _arguments(sql, end)
        out.append(macros[name](args))
        pos = end
    out.append(sql[pos:])
    return "".join(out)


def render(sql: str, ctx: QueryContext) -> str:
    """Variables, then macros: the SQL ClickHouse receives from Grafana."""
    return expand_macros(substitute_variables(sql, dict(ctx.variables)), ctx)
