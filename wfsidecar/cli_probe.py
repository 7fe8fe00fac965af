"""``wfsidecar health``'s probe: GET /v1.0/healthz on the daemon's own HTTP listener,
over TLS when the daemon serves it (container and Kubernetes exec health checks)."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from http.client import HTTPException

import click

from wfsidecar.config import Config


def probe_tls(config: Config) -> ssl.SSLContext | None:
    """The daemon's own health check over TLS: its certificate is not checked (the probe
    asks its own listener); under mutual TLS it shows the server's certificate, which
    works when the client CA bundle also signed it (docs/security.md)."""
    tls = config.security.tls
    if tls.cert_file is None:
        return None
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if tls.client_ca_file is not None and tls.key_file is not None:
        try:
            context.load_cert_chain(tls.cert_file, tls.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise click.ClickException(
                f"unhealthy: cannot load the TLS certificate: {exc}") from exc
    return context


def probe(host: str, port: int, timeout: float,
           tls: ssl.SSLContext | None = None) -> tuple[bool, str]:
    # A wildcard bind address is not something to connect to; ask the loopback instead.
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    scheme = "https" if tls is not None else "http"
    url = f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}/v1.0/healthz"
    # No proxies: an http_proxy variable in a container must not intercept a loopback probe.
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if tls is not None:
        handlers.append(urllib.request.HTTPSHandler(context=tls))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return False, f"unhealthy: {url} answered HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return False, f"unhealthy: no answer from {url} within {timeout:g}s"
        detail = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
        return False, f"unhealthy: cannot connect to {url}: {detail}"
    except TimeoutError:
        return False, f"unhealthy: no answer from {url} within {timeout:g}s"
    except (OSError, HTTPException) as exc:
        return False, f"unhealthy: {url} failed: {exc!r}"
    if status != 204:
        return False, f"unhealthy: {url} answered HTTP {status}, expected 204"
    return True, f"healthy: {url} answered 204"
