"""Fixtures for several daemons on one PostgreSQL database (a throwaway cluster)."""

from __future__ import annotations

import uuid

import pytest

from tests.postgres_cluster import Cluster


@pytest.fixture
def pg_database(pg_cluster: Cluster, request: pytest.FixtureRequest) -> str:
    """A new, empty database for this test; its DSN."""
    tail = "".join(c if c.isalnum() else "_" for c in request.node.name)[-40:].lower()
    name = f"t_{uuid.uuid4().hex[:8]}_{tail}"  # unique even for similar test names
    return pg_cluster.create_database(name)
