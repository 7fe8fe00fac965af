"""``WorkflowClient``: the daemon's HTTP workflow API (docs/http-api.md) as Python calls.

One synchronous httpx client per instance: the CLI makes a handful of calls and exits, and
tests and benchmarks call it from a thread beside their event loop. Every call either
returns the decoded answer or raises ``ApiError`` (the daemon refused, with its
``errorCode`` and ``message``) or ``DaemonUnreachable`` (nothing came back).
"""

from __future__ import annotations

import ipaddress
import json
import ssl
from collections.abc import Iterator
from types import TracebackType
from typing import Any, cast
from urllib.parse import quote

import httpx

from wfsidecar.client.errors import ApiError, DaemonUnreachable
from wfsidecar.client.wire import (
    BulkResult,
    History,
    InstanceMetadata,
    InstancePage,
    InstanceSummary,
    ListFilter,
)

DEFAULT_ADDRESS = "http://127.0.0.1:3500"
_UNSET: Any = object()


class WorkflowClient:
    """Calls one daemon's HTTP API at ``address`` (``http://host:port``; a bare
    ``host:port`` means http).

    ``timeout`` bounds each ordinary call; bulk purge and terminate wait for the daemon
    without a bound (``bulk_timeout``), since it does the whole job in that one call.

    Raises:
        ValueError: ``address`` is not an http(s) URL with a host.
    """

    def __init__(self, address: str = DEFAULT_ADDRESS, *, component: str = "dapr",
                 timeout: float = 10.0, bulk_timeout: float | None = None,
                 api_token: str | None = None,
                 transport: httpx.BaseTransport | None = None,
                 verify: ssl.SSLContext | bool = True) -> None:
        self.address = normalize_address(address)
        self.component = component
        self._timeout = timeout
        self._bulk_timeout = bulk_timeout
        headers = {"dapr-api-token": api_token} if api_token else {}
        self._http = httpx.Client(
            base_url=self.address, timeout=timeout, headers=headers, transport=transport,
            verify=verify,
            # An http_proxy meant for the outside world must not intercept the local
            # daemon (the same rule as `wfsidecar health`).
            trust_env=not _is_loopback(httpx.URL(self.address).host))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WorkflowClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # Dapr's routes.

    def start(self, name: str, input: str | None = None, *,
              instance_id: str | None = None, start_time_ms: int | None = None) -> str:
        """Start workflow ``name`` (its first turn not before ``start_time_ms``, epoch
        milliseconds, when given); the new instance's id (a UUID unless given)."""
        params: dict[str, str] = {"instanceID": instance_id} if instance_id else {}
        if start_time_ms is not None:
            params["startTime"] = str(start_time_ms)
        body = self._call("POST", self._path(name, "start"), params=params,
                          content=_raw(input))
        return str(body["instanceID"])

    def get(self, instance_id: str) -> InstanceMetadata:
        """Dapr's metadata of the instance (``ApiError`` with status 404 if unknown)."""
        return cast(InstanceMetadata, self._call("GET", self._path(instance_id)))

    def raise_event(self, instance_id: str, event: str, data: str | None = None) -> None:
        self._call("POST", self._path(instance_id, "raiseEvent", event), content=_raw(data))

    def suspend(self, instance_id: str, reason: str | None = None) -> None:
        self._call("POST", self._path(instance_id, "pause"), params=_reason(reason))

    def resume(self, instance_id: str, reason: str | None = None) -> None:
        self._call("POST", self._path(instance_id, "resume"), params=_reason(reason))

    def terminate(self, instance_id: str, output: str | None = None) -> None:
        """Terminate the instance and its children; ``output`` becomes its output."""
        self._call("POST", self._path(instance_id, "terminate"), content=_raw(output))

    def purge(self, instance_id: str) -> None:
        """Delete a finished instance and its children (``ApiError`` if it still runs)."""
        self._call("POST", self._path(instance_id, "purge"))

    # Extensions.

    def list(self, where: ListFilter | None = None, *, sort: str | None = None,
             order: str | None = None, page_size: int | None = None,
             cursor: str | None = None, count: bool = False) -> InstancePage:
        """One page of instances; follow ``next_cursor`` for the next one."""
        params = (where or ListFilter()).params()
        for key, value in (("sort", sort), ("order", order), ("pageSize", page_size),
                           ("cursor", cursor)):
            if value is not None:
                params.append((key, str(value)))
        if count:
            params.append(("count", "true"))
        body = self._call("GET", self._path(), params=params)
        return InstancePage(instances=cast(list[InstanceSummary], body["instances"]),
                            next_cursor=body.get("nextCursor"), count=body.get("count"))

    def iter_instances(self, where: ListFilter | None = None, *, sort: str | None = None,
                       order: str | None = None, page_size: int = 100,
                       limit: int | None = None) -> Iterator[InstanceSummary]:
        """Every matching instance (at most ``limit``), a page at a time."""
        cursor: str | None = None
        left = limit
        while left is None or left > 0:
            size = page_size if left is None else min(page_size, left)
            page = self.list(where, sort=sort, order=order, page_size=size, cursor=cursor)
            yield from page.instances
            if left is not None:
                left -= len(page.instances)
            cursor = page.next_cursor
            if not cursor or not page.instances:
                return

    def count(self, where: ListFilter | None = None) -> int:
        """How many instances match."""
        page = self.list(where, page_size=1, count=True)
        return int(page.count or 0)

    def history(self, instance_id: str) -> History:
        return cast(History, self._call("GET", self._path(instance_id, "history")))

    def rerun(self, instance_id: str, from_event_id: int, *,
              new_instance_id: str | None = None, input: Any = _UNSET) -> str:
        """Start a copy of the instance from event ``from_event_id``; the copy's id.

        ``input`` (any JSON value) replaces the input of the rerun event when given.
        """
        body: dict[str, Any] = {"fromEventID": from_event_id}
        if new_instance_id:
            body["newInstanceID"] = new_instance_id
        if input is not _UNSET:
            body["input"] = input
        answer = self._call("POST", self._path(instance_id, "rerun"), json=body)
        return str(answer["instanceID"])

    def bulk_terminate(self, where: ListFilter, *, dry_run: bool = False,
                       ) -> BulkResult:
        """Terminate every unfinished instance ``where`` selects (only count them if
        ``dry_run``)."""
        return self._bulk("terminate", where, dry_run)

    def bulk_purge(self, where: ListFilter, *, dry_run: bool = False) -> BulkResult:
        """Purge every finished instance ``where`` selects (only count them if
        ``dry_run``)."""
        return self._bulk("purge", where, dry_run)

    def diagnostics(self, instance_id: str) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("GET", self._path(instance_id, "diagnostics")))

    def metadata(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("GET", "/v1.0/metadata"))

    def storage(self, largest: int = 10) -> dict[str, Any]:
        """The storage report (``GET /v1.0/storage``): file size, bytes per status, the
        ``largest`` instances, the retention policy and its backlog."""
        return cast(dict[str, Any], self._call("GET", f"/v1.0/storage?largest={largest}"))

    def healthy(self) -> bool:
        """Whether ``/v1.0/healthz`` answers 204 (ready); False while starting or draining."""
        try:
            self._call("GET", "/v1.0/healthz")
        except ApiError:
            return False
        return True

    # Plumbing.

    def _bulk(self, verb: str, where: ListFilter, dry_run: bool) -> BulkResult:
        params = where.params()
        if dry_run:
            params.append(("dryRun", "true"))
        body = self._call("POST", self._path(verb), params=params,
                          timeout=self._bulk_timeout)
        return BulkResult(matched=int(body["matched"]), done=int(body["done"]),
                          stored_bytes=int(body.get("storedBytes", 0)),
                          dry_run=bool(body.get("dryRun", dry_run)))

    def _path(self, *segments: str) -> str:
        # Each segment is escaped whole: a Microsoft-dialect instance id may hold '/'.
        escaped = "/".join(quote(s, safe="") for s in (self.component, *segments))
        return f"/v1.0/workflows/{escaped}"

    def _call(self, method: str, path: str, *, timeout: float | None | Any = _UNSET,
              **kwargs: Any) -> Any:
        if timeout is not _UNSET:
            kwargs["timeout"] = timeout
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            limit = kwargs.get("timeout", self._timeout)
            raise DaemonUnreachable(self.address, f"no answer within {limit:g}s") from exc
        except httpx.TransportError as exc:
            raise DaemonUnreachable(self.address, str(exc) or type(exc).__name__) from exc
        if response.is_error:
            raise _api_error(response, method, path)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise DaemonUnreachable(
                self.address, f"{method} {path} answered {response.status_code} with a "
                              f"body that is not JSON (is this a wfsidecar daemon?)") from exc


def normalize_address(address: str) -> str:
    """``host:port`` or ``http(s)://host:port[/]`` as a base URL without a trailing slash.

    Raises:
        ValueError: not an http(s) URL with a host.
    """
    text = address.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a daemon address: {address!r} ({exc})") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"not a daemon address: {address!r} (expected http://host:port)")
    return text.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _raw(text: str | None) -> bytes | None:
    # Dapr passes inputs and event data through as the raw body, unparsed.
    return None if text is None else text.encode()


def _reason(reason: str | None) -> dict[str, str]:
    return {"reason": reason} if reason else {}


def _api_error(response: httpx.Response, method: str, path: str) -> ApiError:
    code = f"HTTP_{response.status_code}"
    message = response.text.strip()
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict) and "errorCode" in body:
        code = str(body["errorCode"])
        message = str(body.get("message", ""))
    elif response.status_code == 404:
        # aiohttp's own 404: the route is missing, not the instance (an older daemon?).
        message = f"{method} {path} is not served by this daemon"
    return ApiError(response.status_code, code, " ".join(message.split()),
                    method=method, path=path)
