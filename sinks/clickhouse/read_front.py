"""Reading the embedded store while `tahawul up` holds it: ClickHouse's HTTP interface,
read-only, on loopback.

chDB lets one process open a store directory, and `up` is that process while it runs. So
`up` answers read queries for everyone else: this module is the part that speaks ClickHouse
(the request parameters and response headers of its HTTP interface, which clickhouse-connect,
DBeaver's JDBC driver and Grafana's datasource over HTTP send and read) and runs the query on
a chDB handle of its own. The HTTP server itself lives in tahawul.runtime.read_server.

Reads only, three ways over:
- the statement must be one query whose first keyword is SELECT, WITH, SHOW, DESCRIBE,
  DESC, EXISTS or EXPLAIN, without INTO OUTFILE (which readonly does not stop) or chDB's
  python() table function (which reads objects of this process); anything else, and a
  second statement after ``;``, is refused before it reaches the engine;
- the handles it runs on have ``readonly = 1`` for their whole life (chDB keeps settings per
  handle, so the counting writer's handle is not affected), which also refuses file(),
  url(), s3(), remote() and the other table functions that reach outside the store;
- it listens on 127.0.0.1 only, and the ClickHouse interface asks for a user and password
  that `up` makes at random and writes, readable by its owner only, to the front record
  (:func:`record_path`), where `tahawul sql`, `report`, `audit` and `export` find them.

Queries run concurrently with the counting writer, each on its own handle: ClickHouse reads a
consistent set of parts, and the writer's exactness does not depend on readers (measured with
a writer inserting while two readers query: every row counted, no error).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import re
import secrets
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

READ_KEYWORDS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN"})
# Formats chDB's Python API turns into Python objects instead of ClickHouse's bytes.
PYTHON_ONLY_FORMATS = frozenset({"dataframe", "arrowtable", "debug"})
DEFAULT_FORMAT = "TabSeparated"
READONLY = 164  # ClickHouse error codes, as its HTTP interface reports them
SYNTAX_ERROR = 62
UNKNOWN_FORMAT = 73
AUTHENTICATION_FAILED = 516
QUERY_TIMEOUT = 159
USER = "tahawul"
HANDLES = 2  # queries at once; more wait for a free handle
MAX_EXECUTION_S = 300

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_FORMAT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

CONTENT_TYPES = {
    "tabseparated": "text/tab-separated-values; charset=UTF-8",
    "tsv": "text/tab-separated-values; charset=UTF-8",
    "csv": "text/csv; charset=UTF-8",
    "csvwithnames": "text/csv; charset=UTF-8",
    "json": "application/json; charset=UTF-8",
    "jsoneachrow": "application/x-ndjson; charset=UTF-8",
    "jsoncompact": "application/json; charset=UTF-8",
}


class Refused(Exception):
    """A request the front does not run; ``code`` is ClickHouse's error code for it."""

    def __init__(self, code: int, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.code = code
        self.status = status

    def body(self) -> bytes:
        return f"Code: {self.code}. DB::Exception: {self}. (tahawul read front)\n".encode()


@dataclass(frozen=True, slots=True)
class Statement:
    """A query the front will run, and the output format it asks for."""

    sql: str
    format: str


def _tokens(sql: str) -> Iterator[tuple[str, str]]:
    """(kind, text) of the statement, without whitespace and comments: kind is ``word``,
    ``quoted`` (a string literal or quoted identifier) or ``punct``. An unterminated quote
    or comment is refused rather than guessed at."""
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
        elif sql.startswith("--", i) or c == "#":
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise Refused(SYNTAX_ERROR, "unterminated comment in the query", 400)
            i = end + 2
        elif c in "'\"`":
            j = i + 1
            while True:  # to the closing quote; a backslash or a doubled quote escapes one
                if j >= n:
                    raise Refused(SYNTAX_ERROR, "unterminated quoted string in the query", 400)
                if sql[j] == "\\" or (sql[j] == c and sql.startswith(c, j + 1)):
                    j += 2
                elif sql[j] == c:
                    break
                else:
                    j += 1
            yield "quoted", sql[i:j + 1]
            i = j + 1
        else:
            m = _WORD.match(sql, i)
            if m:
                yield "word", m.group(0)
                i = m.end()
            else:
                yield "punct", c
                i += 1


def read_statement(sql: str, default_format: str = DEFAULT_FORMAT) -> Statement:
    """The query if it is one read (else :class:`Refused`), with the format it asks for: its
    trailing FORMAT clause, or ``default_format``."""
    toks = list(_tokens(sql))
    while toks and toks[-1] == ("punct", ";"):
        toks.pop()
    if not toks:
        raise Refused(SYNTAX_ERROR, "empty query", 400)
    if ("punct", ";") in toks:
        raise Refused(SYNTAX_ERROR, "multi-statements are not allowed: send one query", 400)
    first = next((text for kind, text in toks if not (kind == "punct" and text == "(")), "")
    if first.upper() not in READ_KEYWORDS:
        kind = first.upper() or "?"
        raise Refused(READONLY, f"the embedded store is read-only while `tahawul up` runs: {kind} refused "
                      f"(allowed: {', '.join(sorted(READ_KEYWORDS))})", 403)
    fmt = default_format
    words = [(i, text.upper()) for i, (kind, text) in enumerate(toks) if kind == "word"]
    for (i, word), (j, after) in itertools.pairwise(words):
        if word == "INTO" and after == "OUTFILE" and j == i + 1:
            raise Refused(READONLY, "INTO OUTFILE is refused: the read front writes no files", 403)
        if word == "FORMAT" and j == i + 1:
            fmt = toks[j][1]
    for i, (kind, text) in enumerate(toks[:-1]):
        if kind == "word" and text.lower() == "python" and toks[i + 1] == ("punct", "("):
            raise Refused(READONLY, "the python() table function is refused by the read front", 403)
    if not _FORMAT_NAME.match(fmt) or fmt.lower() in PYTHON_ONLY_FORMATS:
        raise Refused(UNKNOWN_FORMAT, f"unknown format {fmt!r}", 400)
    return Statement(sql, fmt)


@dataclass(frozen=True, slots=True)
class FrontRecord:
    """Where a running `up` answers read queries, and with which credentials."""

    url: str
    user: str
    password: str
    pid: int
    live_page: str = ""

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1].rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])


def record_path(store_dir: Path) -> Path:
    """The front record of the embedded store at ``store_dir``: beside it, not in it (the
    directory is chDB's)."""
    return store_dir.with_name(store_dir.name + ".read-front.json")


def write_record(store_dir: Path, record: FrontRecord) -> Path:
    """Write the record readable by its owner only (it holds the password), atomically."""
    path = record_path(store_dir)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(asdict(record), f)
    os.replace(tmp, path)
    return path


def read_record(store_dir: Path) -> FrontRecord | None:
    """The record of a running `up` on this store, or None (none, unreadable, or left by an
    `up` whose process is gone)."""
    try:
        data = json.loads(record_path(store_dir).read_text("utf-8"))
        record = FrontRecord(**data)
    except (OSError, ValueError, TypeError):
        return None
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        pass
    return record


def remove_record(store_dir: Path, pid: int) -> None:
    """Remove the record if it is still this process's."""
    record = read_record(store_dir)
    if record is not None and record.pid == pid:
        record_path(store_dir).unlink(missing_ok=True)


def new_password() -> str:
    return secrets.token_urlsafe(24)


class ReadFront:
    """Read-only chDB handles on the store this process holds, and the ClickHouse HTTP
    semantics around them."""

    def __init__(self, store_dir: Path, user: str = USER, password: str | None = None,
                 handles: int = HANDLES) -> None:
        import chdb

        self.user = user
        self.password = password or new_password()
        self._free: queue.Queue[Any] = queue.Queue()
        self._all: list[Any] = []
        for _ in range(handles):
            conn = chdb.connect(str(store_dir))
            conn.query(f"SET max_execution_time = {MAX_EXECUTION_S}")
            conn.query("SET readonly = 1")  # last: nothing can change a setting after it
            self._all.append(conn)
            self._free.put(conn)
        probe = self._all[0].query("SELECT version(), timezone()", "TabSeparated").bytes().decode()
        self.version, self.timezone = probe.strip().split("\t")

    def close(self) -> None:
        for conn in self._all:
            with contextlib.suppress(Exception):  # closing at exit: nothing to do about it
                conn.close()
        self._all.clear()

    def authorised(self, headers: Mapping[str, str], params: Mapping[str, str]) -> bool:
        """ClickHouse's three ways of giving a user and password: HTTP basic auth, the
        X-ClickHouse-User/Key headers, or user/password parameters."""
        import base64
        import hmac

        user = password = None
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return False
        elif "X-ClickHouse-User" in headers:
            user, password = headers["X-ClickHouse-User"], headers.get("X-ClickHouse-Key", "")
        elif "user" in params:
            user, password = params["user"], params.get("password", "")
        if user is None or password is None:
            return False
        return hmac.compare_digest(user.encode(), self.user.encode()) and hmac.compare_digest(
            password.encode(), self.password.encode())

    def run(self, sql: str, params: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
        """The result of one read query and the response headers ClickHouse would send;
        :class:`Refused` for what is not a read, not allowed or failed."""
        stmt = read_statement(sql, params.get("default_format") or DEFAULT_FORMAT)
        database = params.get("database") or ""
        if database and not _WORD.fullmatch(database):
            raise Refused(81, f"unknown database {database!r}", 404)
        binds = {k[len("param_"):]: v for k, v in params.items() if k.startswith("param_")}
        query_id = params.get("query_id") or str(uuid.uuid4())
        try:
            conn = self._free.get(timeout=MAX_EXECUTION_S)
        except queue.Empty:
            raise Refused(QUERY_TIMEOUT, "every read handle is busy; try again", 503) from None
        started = time.monotonic()
        try:
            if database:
                conn.query(f"USE {database}")
            result = conn.query(stmt.sql, stmt.format, params=binds or None)
            body = bytes(result.bytes() or b"")
            rows_read, bytes_read = int(result.rows_read()), int(result.bytes_read())
        except Exception as exc:
            raise _engine_error(exc) from None
        finally:
            if database:
                with contextlib.suppress(Exception):  # the next query's USE sets it anyway
                    conn.query("USE default")
            self._free.put(conn)
        elapsed_ns = int((time.monotonic() - started) * 1e9)
        summary = {"read_rows": str(rows_read), "read_bytes": str(bytes_read), "written_rows": "0",
                   "written_bytes": "0", "total_rows_to_read": str(rows_read), "result_rows": "0",
                   "result_bytes": str(len(body)), "elapsed_ns": str(elapsed_ns)}
        headers = {
            "Content-Type": CONTENT_TYPES.get(stmt.format.lower(), "application/octet-stream"),
            "X-ClickHouse-Format": stmt.format,
            "X-ClickHouse-Timezone": self.timezone,
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Server-Display-Name": "tahawul-up",
            "X-ClickHouse-Summary": json.dumps(summary, separators=(",", ":")),
        }
        return body, headers


def _engine_error(exc: Exception) -> Refused:
    """chDB's exception as ClickHouse's HTTP interface reports it (code, message, status)."""
    text = str(exc)
    start = text.rfind("Code: ")
    message = text[start:] if start >= 0 else text
    m = re.match(r"Code: (\d+)\. (?:DB::Exception: )?(.*)", message, re.S)
    code = int(m.group(1)) if m else 1002
    detail = (m.group(2) if m else message).strip()
    detail = re.sub(r"^(?:Code: \d+\. DB::Exception: )+", "", detail)
    status = {READONLY: 403, SYNTAX_ERROR: 400, 47: 404, 60: 404, 81: 404, QUERY_TIMEOUT: 500}.get(code, 500)
    return Refused(code, detail.rstrip("."), status)
