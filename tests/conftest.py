"""Suite-wide fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from blockbuster import BlockBuster, blockbuster_ctx

from tests.daemon import REPO, Daemon
from tests.postgres_cluster import Cluster, server_bin, start_cluster


@pytest.fixture(autouse=True)
def blockbuster(request: pytest.FixtureRequest) -> Iterator[BlockBuster | None]:
    """Fail any blocking call made on the event loop thread (style.md §3.8).

    Only async tests run an event loop; sync tests (subprocess drivers) are left alone.
    """
    if not request.node.get_closest_marker("asyncio") and not _is_async(request):
        yield None
        return
    with blockbuster_ctx("wfsidecar") as bb:
        # Creating a grpc.aio server shuts down the aio engine a previous test's loop left
        # behind, joining its poller thread from a C finalizer (no Python caller frame to
        # match), so thread joins are let through; every other blocking call still fails.
        for name in ("threading.Lock.acquire", "threading.Lock.acquire_lock"):
            bb.functions[name].can_block_in("threading.py", "_wait_for_tstate_lock")
        yield bb


def _is_async(request: pytest.FixtureRequest) -> bool:
    import inspect

    return inspect.iscoroutinefunction(getattr(request.node, "function", None))


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[object]:
    started: list[Daemon] = []

    def start(argv: list[str], **env: str) -> Daemon:
        full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
        daemon = Daemon(tmp_path, argv, full_env)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.close()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster for the whole session (about 1 s to start), for the
    store contract on PostgreSQL (tests/store) and several daemons (tests/multinode)."""
    if server_bin() is None:
        pytest.skip("no PostgreSQL server installed (.ci/run installs it)")
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
