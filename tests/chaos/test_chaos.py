"""The bounded chaos runs of ``make test`` (``make chaos`` runs 10,000 workflows)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.chaos.harness import run_chaos

pytestmark = [pytest.mark.process, pytest.mark.slow, pytest.mark.timeout(240)]


def test_sigkills_under_mixed_load_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    report = asyncio.run(run_chaos(tmp_path, workflows=270, kills=5, window=90))
    print(report.table())
    assert report.kills == 5
    assert report.problems == [], report.table() + "\n" + "\n".join(report.problems[:40])
    assert report.lost == report.wrong == report.duplicate_resolutions == 0
    # 270 workflows plus the 30 children of the "parent" kind
    assert report.instances == 300
    assert all(r.drain_s is not None for r in report.recoveries), report.table()


@pytest.mark.parametrize("sdk", ["ms", "js"])
def test_microsoft_sdks_and_entities_survive_sigkills(tmp_path: Path, sdk: str) -> None:
    # The same load through the Microsoft dialect with Microsoft's Python or JS SDK, plus
    # workflows that add to a durable entity: its final state proves each operation was
    # applied exactly once.
    report = asyncio.run(run_chaos(tmp_path, workflows=200, kills=3, window=60, sdk=sdk))
    print(report.table())
    assert report.kills == 3
    assert report.problems == [], report.table() + "\n" + "\n".join(report.problems[:40])
    # 200 workflows (20 of them entity users) plus the 20 children of the "parent" kind
    assert report.instances == 220
    assert all(r.drain_s is not None for r in report.recoveries), report.table()
