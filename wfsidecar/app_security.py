"""The composition root's security part: tokens, TLS files, the rate limit, and the
refusal of a listener exposed beyond loopback without a token (docs/security.md).

It builds the one ``Gate`` that the gRPC interceptor and the aiohttp middleware consult,
and re-reads token and certificate files while the daemon runs, so a rotated Kubernetes
Secret needs no restart.
"""

from __future__ import annotations

import asyncio
import logging
import time

from wfsidecar.config import Config
from wfsidecar.security import exposure
from wfsidecar.security.gate import Gate
from wfsidecar.security.rate import RateLimiter
from wfsidecar.security.tls import TlsFiles
from wfsidecar.security.tokens import Credentials

logger = logging.getLogger("wfsidecar.app")


class Security:
    def __init__(self, config: Config) -> None:
        self._config = config
        cfg = config.security
        self.credentials = Credentials(cfg)
        self.tls = TlsFiles(cfg.tls)
        self.gate: Gate | None = None  # None by default: the edges then run no auth code
        self._exposed: list[str] = []

    async def load(self) -> None:
        """Load tokens and TLS files and check the exposure.

        Raises:
            ConfigError: a token or TLS file does not load, or a listener is exposed beyond
                loopback with no token and without ``security.insecure``.
        """
        cfg = self._config.security
        await self.credentials.load()
        await self.tls.load()
        self._exposed = exposure.check(self._config, self.credentials.enabled)
        limiter = RateLimiter(cfg.rate_limit, cfg.rate_burst) if cfg.rate_limit else None
        self.gate = (Gate(self.credentials, limiter)
                     if self.credentials.enabled or limiter else None)
        if self._exposed and not self.credentials.enabled:
            exposure.warn_insecure(self._exposed)
        if self.credentials.enabled:
            logger.info("API tokens required on every listener (health excepted)")

    async def watch(self) -> None:
        """Re-read token and certificate files; repeat the --insecure warning hourly.
        Runs until cancelled (an owned task of the composition root)."""
        interval = self._config.security.reload_interval
        warn_every = exposure.INSECURE_WARNING_INTERVAL
        insecure = bool(self._exposed) and not self.credentials.enabled
        last_warning = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            await self.credentials.reload()
            await self.tls.reload()
            if insecure and time.monotonic() - last_warning >= warn_every:
                exposure.warn_insecure(self._exposed)
                last_warning = time.monotonic()
