"""Fixtures for the store tests: one ``store`` fixture per StateStore implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wfsidecar.store.base import StateStore
from wfsidecar.store.memory import MemoryStore
from wfsidecar.store.sqlite import SqliteStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "wfsidecar.db"


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, db_path: Path) -> AsyncIterator[StateStore]:
    """Every implementation the contract suite must hold for (style.md §3.14)."""
    impl: StateStore
    if request.param == "memory":
        impl = MemoryStore()
    else:
        impl = await SqliteStore.open(db_path)
    try:
        yield impl
    finally:
        await impl.close()


@pytest.fixture
async def sqlite_store(db_path: Path) -> AsyncIterator[SqliteStore]:
    impl = await SqliteStore.open(db_path)
    try:
        yield impl
    finally:
        await impl.close()
