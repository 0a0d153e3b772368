"""National scale on one machine: `tahawul up --simulate PROFILE --scale S --exit-when-done`,
end to end, with its wall time and peak memory beside baselines of the same run.

What runs is exactly what a user runs: the `tahawul up` command in a scratch data dir (its
embedded or, with ``--broker kafka``, local Apache Kafka broker, one worker process, the
counting writer and chDB in the `up` process), fed by the simulator from a process of its own
(tahawul/runtime/feed_process.py). Then `tahawul audit
published` on the store, with no ``--scale`` (the run recorded its own), must find every
published figure of the profile's period within its rounding: a run that counted wrong fails
instead of printing a speed.

Baselines, measured in the same run on the same machine (docs/performance.md):

- **generation**: the simulator alone producing the same events (``iter_simulation``, the
  lines counted and dropped), in a process of its own: the floor of any feed, and the part of
  the run's time that is not the pipeline's.
- **tenth**: the same `up` run at scale S/10, its time and memory multiplied by 10: whether
  the run scales linearly (a ratio near 1) or something grows with the volume (above 1).
  ``--no-tenth`` skips it (at scale 1 it costs a tenth of the run).

Peak memory is sampled every half second from /proc over the whole process tree: the peak of
the sum (what the machine must have) and each process's own peak. The goal is the issue's:
national volume (scale 1) in under 15 minutes, so a run at scale S is held to S x 900 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import REPO, machine, table
from tahawul.producers.simulator import PROFILES

GOAL_SECONDS_AT_SCALE_1 = 15 * 60


@dataclass
class Measured:
    """Wall time and memory of one command's process tree."""

    seconds: float
    peak_total_mib: float
    peak_by_process: dict[str, float] = field(default_factory=dict)
    # CPU seconds (user + system) of each kind of process, from /proc at the last sample
    # each process was seen in: which process spends what (docs/performance.md).
    cpu_by_process: dict[str, float] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at the start and at the end
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                for child in fh.read().split():
                    found.append(int(child))
                    found += _children(int(child))
    except OSError:
        pass
    return found


def _rss_and_name(pid: int) -> tuple[float, str] | None:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().decode(errors="replace").split("\0")
    except (OSError, IndexError, ValueError):
        return None
    if not argv[0]:  # a process exiting (its command line already gone)
        return None
    if "tahawul.runtime.feed_process" in argv:
        return rss, "feed (simulator, batching, signing, producing)"
    if "tansu" in argv[0]:
        return rss, "broker (Tansu)"
    if "java" in argv[0]:
        return rss, "broker (Apache Kafka)"
    if "worker" in argv:
        return rss, "worker"
    if "up" in argv:
        return rss, "up (counting writer, chDB, live view)"
    return rss, " ".join(argv)[:40]


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process so far (its own, not its children's)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15)


def _load() -> float:
    return os.getloadavg()[0]


def measure(argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> Measured:
    """Run ``argv`` and sample the RSS and CPU time of its process tree until it exits."""
    started = time.monotonic()
    load_start = _load()
    cpu: dict[int, tuple[str, float]] = {}  # pid -> (kind, CPU seconds at its last sample)
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    out: dict[str, str] = {}
    readers = [threading.Thread(target=lambda n, s: out.__setitem__(n, s.read()), args=(n, s), daemon=True)
               for n, s in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    for r in readers:
        r.start()
    peak_total = 0.0
    peaks: dict[str, float] = {}
    while proc.poll() is None:
        total = 0.0
        for pid in [proc.pid, *_children(proc.pid)]:
            got = _rss_and_name(pid)
            if got is None:
                continue
            rss, name = got
            total += rss
            peaks[name] = max(peaks.get(name, 0.0), rss)
            used = _cpu_seconds(pid)
            if used is not None:
                cpu[pid] = (name, used)
        peak_total = max(peak_total, total)
        if time.monotonic() - started > timeout:
            proc.kill()
            raise TimeoutError(f"{' '.join(argv[2:])} not done after {timeout:.0f} s")
        time.sleep(0.5)
    seconds = time.monotonic() - started
    for r in readers:
        r.join()
    by_kind: dict[str, float] = {}
    for name, used in cpu.values():
        by_kind[name] = by_kind.get(name, 0.0) + used
    return Measured(seconds, peak_total, peaks, by_kind, (load_start, _load()), proc.returncode,
                    out.get("stdout", ""), out.get("stderr", ""))


GENERATE = """
import sys
from tahawul.producers.simulator import iter_simulation
n = sum(1 for _ in iter_simulation(sys.argv[1], float(sys.argv[2]), int(sys.argv[3])))
print(n)
"""


def env_without_tahawul(data_dir: Path, broker: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAHAWUL_")}
    env.update({"TAHAWUL_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)})
    if broker is not None:
        env["TAHAWUL_LOCAL_BROKER"] = broker
    return env


def run_up(profile: str, scale: float, seed: int, broker: str | None, scratch: Path,
           timeout: float, audited: bool = True) -> tuple[Measured, int, str]:
    """`up` at ``scale`` in a data dir of its own, then (``audited``) `audit published` on its
    store: (the run measured, the events it fed, the audit's output). The tenth-scale
    baseline is not audited: at a very small scale a percentage may round outside its
    published rounding without anything being miscounted."""
    data = scratch / f"up-{scale:g}"
    env = env_without_tahawul(data, broker)
    run = measure([sys.executable, "-m", "tahawul", "up", "--simulate", profile, "--scale", f"{scale:g}",
                   "--seed", str(seed), "--exit-when-done"], env, scratch, timeout)
    if run.returncode != 0:
        raise RuntimeError(f"tahawul up exited with {run.returncode}:\n{run.stderr[-3000:]}")
    fed = next(int(line.split()[1]) for line in run.stdout.splitlines() if line.startswith("processed "))
    if not audited:
        return run, fed, ""
    audit = subprocess.run([sys.executable, "-m", "tahawul", "audit", "published"], env=env, cwd=scratch,
                           capture_output=True, text=True, timeout=timeout)
    if audit.returncode != 0:
        raise RuntimeError(f"tahawul audit published found differences (exit {audit.returncode}):\n"
                           f"{audit.stdout[-3000:]}{audit.stderr[-2000:]}")
    return run, fed, audit.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.national", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.01, help="scale of the profile (1: national volume)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="oman-2024")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--broker", choices=("tansu", "kafka"), default=None,
                        help="the local broker of `up` (default: up's own default)")
    parser.add_argument("--no-tenth", action="store_true", help="skip the baseline run at scale / 10")
    parser.add_argument("--no-generation", action="store_true",
                        help="skip the generation-alone baseline (at scale 1 it takes minutes of a core)")
    parser.add_argument("--timeout", type=float, default=4 * 3600)
    parser.add_argument("--keep", action="store_true", help="keep the scratch data dirs")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be > 0")
    print(f"machine: {machine()}", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="tahawul-national-"))
    try:
        gen: Measured | None = None
        if not args.no_generation:
            print(f"baseline: generating {args.profile} at scale {args.scale:g} alone ...", flush=True)
            gen = measure([sys.executable, "-c", GENERATE, args.profile, f"{args.scale:g}", str(args.seed)],
                          env_without_tahawul(scratch / "gen", None), scratch, args.timeout)
            if gen.returncode != 0:
                raise RuntimeError(f"generation failed: {gen.stderr[-2000:]}")
        tenth: tuple[Measured, int, str] | None = None
        if not args.no_tenth:
            print(f"baseline: up at scale {args.scale / 10:g} ...", flush=True)
            tenth = run_up(args.profile, args.scale / 10, args.seed, args.broker, scratch, args.timeout,
                               audited=False)
        print(f"up --simulate {args.profile} --scale {args.scale:g} --exit-when-done ...", flush=True)
        run, fed, audit = run_up(args.profile, args.scale, args.seed, args.broker, scratch, args.timeout)
    finally:
        if args.keep:
            print(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print()
    print(audit.rstrip())
    print()
    rows: list[list[object]] = [["up, the whole pipeline", run.seconds, fed / run.seconds, run.peak_total_mib,
                                 "1.00"]]
    if gen is not None:
        rows.append(["generation alone (baseline)", gen.seconds, fed / gen.seconds, gen.peak_total_mib,
                     f"{gen.seconds / run.seconds:.2f}"])
    if tenth is not None:
        t_run, t_fed, _ = tenth
        rows.append([f"up at scale {args.scale / 10:g}, x 10 (baseline)", t_run.seconds * 10,
                     t_fed / t_run.seconds, t_run.peak_total_mib * 10,
                     f"{t_run.seconds * 10 / run.seconds:.2f}"])
    print(table(["run", "wall s", "events/s", "peak RSS MiB (all processes)", "time / up's"], rows))
    print()
    cpu_total = sum(run.cpu_by_process.values())
    print(table(["process", "peak RSS MiB", "CPU s", "CPU us / event", "share of CPU"],
                [[name, mib, run.cpu_by_process.get(name, 0.0), run.cpu_by_process.get(name, 0.0) / fed * 1e6,
                  f"{run.cpu_by_process.get(name, 0.0) / cpu_total:.0%}" if cpu_total else "-"]
                 for name, mib in sorted(run.peak_by_process.items())]))
    print(f"\nCPU of the whole tree: {cpu_total:,.0f} s, {cpu_total / fed * 1e6:.1f} us an event, "
          f"{cpu_total / run.seconds:.2f} cores on average over the run; at scale 1 (about "
          f"{fed / args.scale:,.0f} events) that is about {cpu_total / args.scale / 2:,.0f} s on two free "
          "cores if the processes overlapped perfectly")
    print(f"load average (1 min) at the start and the end of the run: {run.load[0]:.1f}, {run.load[1]:.1f} "
          f"(this machine has {os.cpu_count()} cores)")
    if tenth is not None:
        growth = run.peak_total_mib / tenth[0].peak_total_mib
        print(f"\npeak memory at scale {args.scale:g} is {growth:.1f} x that at {args.scale / 10:g} "
              "(10 would be memory in proportion to the volume)")
    goal = GOAL_SECONDS_AT_SCALE_1 * args.scale
    met = run.seconds <= goal
    print(f"\n{fed:,} input records in {run.seconds:,.0f} s; "
          "audit published: every figure within its rounding")
    print(f"wall time at scale {args.scale:g}: {run.seconds:,.0f} s; goal <= {goal:,.0f} s: "
          f"{'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
