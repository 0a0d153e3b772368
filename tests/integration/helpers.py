"""Shared steps of the integration tests: feed a simulated run, wait, compare with truth."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

from tahawul.kafka_admin import admin
from tahawul.keyring import producer_signers
from tahawul.producers.kafka_sender import EventSender, entity_key
from tahawul.producers.simulator import Truth, iter_simulation
from tahawul.runtime.local import Workers, WriterThread, child_env
from tahawul.schemas.headers import SIGNATURE_HEADER
from tahawul.settings import Settings
from tahawul.sinks.clickhouse.reconcile import reconcile
from tests.integration.conftest import REPO, wait_for


def feed(settings: Settings, scale: float, seed: int, dup: float = 0.02, bad: float = 0.02,
         on_sent: Callable[[int], None] | None = None, batch: int = 0) -> tuple[Truth, dict[int, int]]:
    """Send a simulated run; return its truth and the highest acked offset per partition.
    ``batch`` > 0: in batched records of up to that many events of one key (schemas/batch.py)."""
    truth = Truth()
    sender = EventSender(settings.kafka_bootstrap() or "", settings.topic_transactions,
                         batch_events=batch, sign=sign_for(settings))
    try:
        for n, line in enumerate(iter_simulation("oman-2025-h1", scale, seed, dup, bad), start=1):
            sender.add(line.data, line.entity.encode() if line.entity else None)
            truth.add(line)
            if on_sent is not None:
                on_sent(n)
        sender.flush()
        return truth, dict(sender.acked)
    finally:
        sender.close()


def sign_for(settings: Settings) -> Callable[[bytes | None, bytes], bytes | None]:
    """How the tests' senders sign a record: with the dev key (the test's data dir holds
    them, as `tahawul up`'s does) of the entity its payload names, else of its key's
    entity (a batched record). A record of no known entity goes unsigned."""
    signers = producer_signers(settings)

    def sign(key: bytes | None, value: bytes) -> bytes | None:
        return signers.sign_keyed(entity_key(value) or key, value)
    return sign


def signed(settings: Settings, entity: str, value: bytes) -> list[tuple[str, bytes]]:
    """The signature header of a record of ``entity``'s, for tests that write raw records."""
    signature = producer_signers(settings).sign(entity, value)
    assert signature is not None, f"no dev key of {entity}"
    return [(SIGNATURE_HEADER, signature)]


def published(ct: WriterThread) -> dict[tuple[str, ...], int]:
    rows = ct.store.client.query(
        "SELECT toString(day), governorate, entity, service, channel, mode, transactions "
        "FROM v_counts_daily WHERE transactions > 0"
    ).result_rows
    return {tuple(r[:6]): int(r[6]) for r in rows}


def expected(truth: Truth) -> dict[tuple[str, ...], int]:
    return {(r[0].isoformat(), *r[1:6]): int(r[6]) for r in truth.rows()}


def wait_applied(ct: WriterThread, settings: Settings, acked: dict[int, int], timeout: float,
                 workers: Workers | None = None) -> None:
    """Wait until the counter applied every acknowledged record. With ``workers``, fail at
    once if one of them exited by itself (nothing would restart it: the run could only time
    out), and say on failure what the groups and workers were doing."""
    ct.run.acked = acked
    ct.run.feed_done = True

    def done() -> bool:
        if workers is not None and exited_by_itself(workers):
            raise AssertionError("a worker exited by itself; " + pipeline_state(ct, settings, workers))
        return ct.run.caught_up(settings.topic_transactions)

    try:
        wait_for(done, timeout, "the counter to apply every acknowledged record")
    except AssertionError as exc:
        if "exited by itself" in str(exc):
            raise
        raise AssertionError(f"{exc}; {pipeline_state(ct, settings, workers)}") from None


def exited_by_itself(workers: Workers) -> list[subprocess.Popen[bytes]]:
    """The workers that ended other than by the test's SIGKILL (Workers.kill)."""
    return [p for p in workers.exited() if p.returncode != -signal.SIGKILL]


def pipeline_state(ct: WriterThread, settings: Settings, workers: Workers | None) -> str:
    """What a stalled run was doing, for the failure message: how much the counter applied,
    each consumer group's state and members (a group that never settles after a member died
    shows here), the worker group's lag on the transactions topic, and the workers' exit
    codes and last log lines."""
    lines = [f"counter applied {ct.run.counted} counted, {ct.run.duplicates} duplicates, "
             f"{ct.run.rejected} rejected; its progress on the transactions topic "
             f"{sorted((p, o) for (t, p), o in ct.run.progress.items() if t == settings.topic_transactions)}"]
    try:
        client = admin(settings.kafka_bootstrap() or "")
        try:
            groups = client.describe_groups([settings.worker_group, settings.counter_group])
            for name, info in groups.items():
                members = info.get("members") or []
                lines.append(f"group {name}: {info.get('group_state') or info.get('state')}, "
                             f"{len(members)} member(s)")
            offsets = client.list_group_offsets(settings.worker_group)
            metas = offsets.get(settings.worker_group, offsets)
            committed = {tp.partition: m.offset for tp, m in metas.items()
                         if tp.topic == settings.topic_transactions}
            lines.append(f"worker group committed {sorted(committed.items())} of acked "
                         f"{sorted(ct.run.acked.items()) if ct.run.acked else '?'}")
        finally:
            client.close()
    except Exception as exc:  # a diagnosis must not hide the failure it explains
        lines.append(f"(groups not described: {exc!r})")
    if workers is not None:
        for i, proc in enumerate(workers.procs):
            lines.append(f"worker {i}: {'running' if proc.poll() is None else f'exit {proc.returncode}'}")
        for log in sorted(workers.log_dir.glob("worker-*.log")):
            tail = log.read_bytes()[-1500:].decode(errors="replace").strip().splitlines()[-6:]
            lines.append(f"{log.name}: " + " | ".join(tail))
    return "; ".join(lines)


def scalar(ct: WriterThread, sql: str) -> int:
    return int(ct.store.client.query(sql).result_rows[0][0])



def assert_exact(ct: WriterThread, truth: Truth) -> None:
    """v_counts_daily equals the truth cell for cell, and reconciliation finds no drift."""
    got, want = published(ct), expected(truth)
    if got != want:
        lost = sum(n - got.get(k, 0) for k, n in want.items() if n > got.get(k, 0))
        extra = sum(n - want.get(k, 0) for k, n in got.items() if n > want.get(k, 0))
        raise AssertionError(f"published counts differ from truth: {lost} transactions missing, "
                             f"{extra} extra, in {sum(got.get(k) != v for k, v in want.items())} "
                             f"cells (events stored {scalar(ct, 'SELECT count() FROM events')}, "
                             f"valid sent {truth.valid})")
    assert scalar(ct, "SELECT count() FROM events") == truth.valid
    result = reconcile(ct.store.client)
    assert not result.drift, result


def start_counter_process(settings: Settings, log_path: Path) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    """`tahawul counter` as a process of its own, so that a test can SIGKILL it."""
    log = log_path.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "tahawul", "counter"], env=child_env(settings),
                            stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    return proc, log


def sigkill_after_commits(proc: subprocess.Popen[bytes], log: IO[bytes], settings: Settings,
                          records: int, timeout: float) -> None:
    """Let the counter process commit ``records`` validated records (its applied batches),
    then SIGKILL it mid-run."""
    try:
        wait_for(lambda: proc.poll() is not None or committed(settings) >= records, timeout,
                 "the counter to commit some batches")
    except AssertionError:
        proc.kill()  # it would outlive the test (and the run) otherwise
        proc.wait()
        log.close()
        raise
    assert proc.poll() is None, "the counter exited by itself"
    proc.kill()
    proc.wait()
    log.close()


def committed(settings: Settings) -> int:
    """Validated-topic records the counter group has committed (its applied batches)."""
    client = admin(settings.kafka_bootstrap() or "")
    try:
        offsets = client.list_group_offsets(settings.counter_group)
    finally:
        client.close()
    metas = offsets.get(settings.counter_group, offsets)  # {group: {tp: meta}} in kafka-python 3
    return sum(meta.offset for meta in metas.values() if meta.offset > 0)
