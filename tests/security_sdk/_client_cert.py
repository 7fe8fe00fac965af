"""Imported by the SDK apps (inside the SDK virtualenvs): with CLIENT_CERT and CLIENT_KEY
set, every TLS channel the SDK opens presents that client certificate (mutual TLS).

Neither SDK takes a client certificate as a parameter; both build their channel with
``grpc.ssl_channel_credentials()``, so an app that needs mTLS wraps that call, as here.
The roots still come from GRPC_DEFAULT_SSL_ROOTS_FILE_PATH.
"""

from __future__ import annotations

import functools
import os

import grpc


def install() -> None:
    cert, key = os.environ.get("CLIENT_CERT"), os.environ.get("CLIENT_KEY")
    if not cert or not key:
        return
    with open(cert, "rb") as c, open(key, "rb") as k:
        chain, private = c.read(), k.read()
    roots_path = os.environ.get("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH")
    roots = open(roots_path, "rb").read() if roots_path else None  # noqa: SIM115
    original = grpc.ssl_channel_credentials
    grpc.ssl_channel_credentials = functools.partial(  # type: ignore[assignment]
        original, roots, private, chain)
