"""What a call to the daemon's HTTP API can fail with.

Two kinds, because a caller reacts to them differently: the daemon answered and refused
(``ApiError``, carrying Dapr's ``errorCode`` and ``message``), or nothing usable came back
at all (``DaemonUnreachable``: refused connection, timeout, broken response).
"""

from __future__ import annotations


class ClientError(Exception):
    """Base of every error the HTTP client raises."""


class DaemonUnreachable(ClientError):
    """No answer from the daemon: it is not listening there, or it did not reply in time."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"cannot reach the daemon at {address}: {reason}")
        self.address = address
        self.reason = reason


class ApiError(ClientError):
    """The daemon answered with an error status.

    ``error_code`` is the ``errorCode`` of the body (``ERR_INSTANCE_ID_NOT_FOUND``, ...), or
    ``HTTP_<status>`` when the body was not the API's error JSON (a route this daemon does
    not serve answers aiohttp's plain 404, for instance).
    """

    def __init__(self, status: int, error_code: str, message: str, *, method: str = "",
                 path: str = "") -> None:
        super().__init__(f"{error_code}: {message}" if message else error_code)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.method = method
        self.path = path

    @property
    def not_found(self) -> bool:
        return self.status == 404
