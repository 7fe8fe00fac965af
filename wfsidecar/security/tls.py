"""TLS material from ``security.tls``: certificate, key and optional client CA bundle,
re-read when the files change so a renewed certificate needs no restart.

gRPC listeners get dynamic credentials whose fetcher grpc calls before every handshake;
the HTTP listener gets one ``SSLContext`` whose SNI callback moves each new connection to
the newest context. A new set of files is taken only once it loads as a whole (a key that
does not match its certificate mid-rotation keeps the previous pair).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from wfsidecar.config import TlsConfig
from wfsidecar.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Material:
    cert: bytes
    key: bytes
    ca: bytes | None
    context: ssl.SSLContext


class TlsFiles:
    def __init__(self, cfg: TlsConfig) -> None:
        self.enabled = cfg.cert_file is not None
        self.mutual = cfg.client_ca_file is not None
        self._cert = Path(cfg.cert_file) if cfg.cert_file else None
        self._key = Path(cfg.key_file) if cfg.key_file else None
        self._ca = Path(cfg.client_ca_file) if cfg.client_ca_file else None
        self._current: _Material | None = None
        self.generation = 0

    async def load(self) -> None:
        """Read the files at start-up.

        Raises:
            ConfigError: a file is unreadable, or the key does not match the certificate.
        """
        if not self.enabled:
            return
        try:
            self._current = await asyncio.to_thread(self._read)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConfigError("security.tls.cert_file", f"cannot load TLS files: {exc}") from exc
        self.generation = 1

    async def reload(self) -> None:
        if not self.enabled or self._current is None:
            return
        try:
            material = await asyncio.to_thread(self._read)
        except (OSError, ssl.SSLError, ValueError) as exc:
            logger.warning("TLS files changed but do not load (%s); keeping the previous "
                           "certificate", exc)
            return
        current = self._current
        if (material.cert, material.key, material.ca) == (current.cert, current.key, current.ca):
            return
        self._current = material
        self.generation += 1
        logger.info("TLS certificate re-read from %s", self._cert)

    def _read(self) -> _Material:
        assert self._cert is not None and self._key is not None
        cert, key = self._cert.read_bytes(), self._key.read_bytes()
        ca = self._ca.read_bytes() if self._ca is not None else None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self._cert, self._key)  # also checks the pair matches
        if ca is not None:
            context.load_verify_locations(cadata=ca.decode("ascii"))
            context.verify_mode = ssl.CERT_REQUIRED
        # The files may have changed between the two reads: take the pair only if not.
        if (self._cert.read_bytes(), self._key.read_bytes()) != (cert, key):
            raise ValueError("certificate files changed while being read")
        return _Material(cert, key, ca, context)

    # -- gRPC ----------------------------------------------------------------------------

    def grpc_credentials(self) -> grpc.ServerCredentials:
        assert self._current is not None
        given: list[_Material] = [self._current]

        def fetch() -> Any:
            # grpc calls this before every handshake, on its own thread.
            current = self._current
            if current is None or current is given[0]:
                return None
            given[0] = current
            return _grpc_config(current)

        return grpc.dynamic_ssl_server_credentials(
            _grpc_config(self._current), fetch, require_client_authentication=self.mutual)

    # -- HTTP ----------------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        assert self._current is not None
        base = self._current.context

        def newest(sock: Any, server_name: str | None, context: ssl.SSLContext) -> None:
            current = self._current
            if current is not None and current.context is not context:
                sock.context = current.context

        # Every context answers the callback, so a connection always gets the newest.
        base.sni_callback = newest
        return base


def _grpc_config(material: _Material) -> Any:
    return grpc.ssl_server_certificate_configuration(
        [(material.key, material.cert)], root_certificates=material.ca)
