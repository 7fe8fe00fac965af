"""The valid tokens of each role, from config values and token files re-read on change.

Tokens are kept only as SHA-256 digests and compared with ``hmac.compare_digest`` against
every known token (no early exit), so neither the comparison's time nor a log line reveals
a token. A token file holds one token per line, all valid at once: a rotation writes the
new token beside the old one, the clients move over, then the old line goes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path

from wfsidecar.config import SecurityConfig
from wfsidecar.errors import ConfigError
from wfsidecar.security.access import Role

logger = logging.getLogger(__name__)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def token_id(token_digest: bytes) -> str:
    """A token's id in logs: the first 8 hex digits of its SHA-256 (it tells tokens apart,
    e.g. who still sends the old one during a rotation, without revealing any)."""
    return token_digest[:4].hex()


def parse_token_file(text: str) -> list[str]:
    """One token per line; blank lines and ``#`` comments are skipped."""
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


@dataclass
class _Source:
    role: Role
    key: str  # the config key, for errors
    fixed: tuple[bytes, ...]
    path: Path | None
    loaded: tuple[bytes, ...] = ()
    text: str | None = field(default=None, repr=False)

    @property
    def digests(self) -> tuple[bytes, ...]:
        return self.fixed + self.loaded


class Credentials:
    """Maps a presented token to its role; ``enabled`` once any token is configured."""

    def __init__(self, cfg: SecurityConfig) -> None:
        def source(role: Role, key: str, value: str | None, path: str | None) -> _Source:
            return _Source(role, f"security.{key}_file", (digest(value),) if value else (),
                           Path(path) if path else None)

        self._sources = [
            source(Role.ADMIN, "api_token", cfg.api_token, cfg.api_token_file),
            source(Role.READ_ONLY, "read_token", cfg.read_token, cfg.read_token_file),
            source(Role.WORKER, "worker_token", cfg.worker_token, cfg.worker_token_file),
        ]
        self.enabled = any(s.fixed or s.path for s in self._sources)

    async def load(self) -> None:
        """Read every token file once, at start-up.

        Raises:
            ConfigError: a token file is unreadable or holds no token.
        """
        for source in self._sources:
            if source.path is not None:
                try:
                    text = await asyncio.to_thread(source.path.read_text, encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise ConfigError(source.key, f"cannot read token file {source.path}: "
                                      f"{getattr(exc, 'strerror', None) or exc}") from exc
                if not parse_token_file(text):
                    raise ConfigError(source.key, f"token file {source.path} holds no token")
                self._take(source, text)
            if source.digests:
                logger.info("%d %s token(s) valid (ids %s)", len(source.digests),
                            source.role.value, ", ".join(token_id(d) for d in source.digests))

    async def reload(self) -> None:
        """Re-read the token files; a file that is unreadable or empty for a moment (being
        rewritten) keeps the tokens it held, so nobody is locked out by a half-done write."""
        for source in self._sources:
            if source.path is None:
                continue
            try:
                text = await asyncio.to_thread(source.path.read_text, encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                logger.warning("cannot re-read token file %s (%s); keeping its %d token(s)",
                               source.path, exc, len(source.loaded))
                continue
            if text == source.text:
                continue
            if not parse_token_file(text):
                logger.warning("token file %s holds no token now; keeping its %d token(s)",
                               source.path, len(source.loaded))
                continue
            self._take(source, text)
            logger.info("token file %s re-read: %d %s token(s) valid (ids %s)", source.path,
                        len(source.loaded), source.role.value,
                        ", ".join(token_id(d) for d in source.loaded))

    @staticmethod
    def _take(source: _Source, text: str) -> None:
        source.text = text
        source.loaded = tuple(digest(token) for token in parse_token_file(text))

    def role_of(self, token: str) -> Role | None:
        """The most powerful role the token holds, or None; constant time per known token."""
        presented = digest(token)
        found: Role | None = None
        for source in self._sources:
            for known in source.digests:
                # Every known token is compared, a match or not: no early exit.
                if hmac.compare_digest(presented, known) and found is None:
                    found = source.role
        return found
