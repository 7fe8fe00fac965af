"""Fixtures for the store tests: one ``store`` fixture per StateStore implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.postgres_cluster import Cluster
from wfsidecar.store.base import StateStore
from wfsidecar.store.memory import MemoryStore
from wfsidecar.store.sqlite import SqliteStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "wfsidecar.db"



async def empty_database(cluster: Cluster) -> str:
    """A DSN of an empty database: the schema is dropped and recreated for each test,
    which is much faster than a CREATE DATABASE."""
    import asyncpg

    dsn = cluster.dsn()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    return dsn


@pytest.fixture
async def pg_dsn(pg_cluster: Cluster) -> str:
    return await empty_database(pg_cluster)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, db_path: Path) -> AsyncIterator[StateStore]:
    """Every implementation the contract suite must hold for (style.md §3.14)."""
    impl: StateStore
    if request.param == "memory":
        impl = MemoryStore()
    elif request.param == "sqlite":
        impl = await SqliteStore.open(db_path)
    else:
        from wfsidecar.store.postgres import PostgresStore

        impl = await PostgresStore.open(await empty_database(
            request.getfixturevalue("pg_cluster")))
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
