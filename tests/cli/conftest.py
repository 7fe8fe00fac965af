"""The ``op`` fixture: a daemon in-process and the CLI pointed at it (tests/cli/_operator.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cli._operator import Operator, operating


@pytest.fixture
async def op(tmp_path: Path) -> AsyncIterator[Operator]:
    async with operating(tmp_path) as operator:
        yield operator
