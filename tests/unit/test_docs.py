"""The docs say what the code does and point only inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tahawul.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_resolve_inside_the_repository(doc: Path) -> None:
    for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text("utf-8")):
        if re.match(r"https?://|#", target):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), f"{doc.name}: {target}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_docs_cite_no_issue_numbers(doc: Path) -> None:
    """An issue tracker is not part of the repository: docs say what is, not which ticket."""
    text = doc.read_text("utf-8")
    assert not re.search(r"\b(?:issues?|tickets?)\s+#?\d+|(?<![\w&])#\d+\b|later issue", text, re.I), doc.name


def test_exactly_once_names_nothing_outside_the_repository() -> None:
    text = (ROOT / "docs" / "exactly-once.md").read_text("utf-8")
    assert "shared/" not in text and "../" not in text
    assert "`tahawul audit reconcile`" in text  # a command that exists, not a promise


def test_simulate_help_and_the_producer_guide_agree_on_send_with_out(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    help_text = re.sub(r"\s+", " ", capsys.readouterr().out)
    assert "not with --send" in help_text and "takes no --out, --truth optional" in help_text
    assert main(["simulate", "--send", "--out", str(tmp_path / "e.jsonl")]) == 2
    assert "takes no --out" in capsys.readouterr().err
    guide = re.sub(r"\s+", " ", (ROOT / "docs" / "producers.md").read_text("utf-8"))
    assert "it takes no `--out` (refused with a usage error)" in guide
    assert "`--out/--truth` still write files" not in guide
