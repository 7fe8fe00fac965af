"""The metrics listener is one of the daemon's listeners: with tokens configured a scrape
needs a read-only or admin token (Prometheus sends it as ``Authorization: Bearer``), and
on a non-loopback address without a token the daemon refuses to start."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.security._support import TOKENS, secured
from tests.test_app import running
from wfsidecar.config import load
from wfsidecar.errors import ConfigError
from wfsidecar.security import exposure
from wfsidecar.security.access import Role


async def test_a_scrape_needs_a_read_token(tmp_path: Path) -> None:
    app = secured(tmp_path, **{"metrics.enabled": True, "metrics.port": 0})
    async with running(app):
        assert app.ports is not None and app.ports.metrics is not None
        url = f"http://127.0.0.1:{app.ports.metrics}/metrics"
        async with aiohttp.ClientSession() as session:
            async def status(token: str | None) -> int:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with session.get(url, headers=headers) as reply:
                    return reply.status
            assert await status(None) == 401
            assert await status("wrong") == 401
            assert await status(TOKENS[Role.WORKER]) == 403
            assert await status(TOKENS[Role.READ_ONLY]) == 200
            assert await status(TOKENS[Role.ADMIN]) == 200


def test_metrics_beyond_loopback_count_as_exposed() -> None:
    config = load(None, env={}, overrides={"metrics.enabled": True,
                                           "metrics.host": "0.0.0.0"})
    with pytest.raises(ConfigError, match="metrics 0.0.0.0:9090"):
        exposure.check(config, tokens_enabled=False)
    assert exposure.check(config, tokens_enabled=True) == ["metrics 0.0.0.0:9090"]
    off = load(None, env={}, overrides={"metrics.host": "0.0.0.0"})
    assert exposure.exposed_listeners(off) == []  # not enabled: not listening
