"""The one table from wfsidecar errors to HTTP statuses and Dapr's ``ERR_`` codes.

Every error leaves the API as Dapr's JSON, ``{"errorCode": "ERR_...", "message": "..."}``:
a 4xx for the client's mistake (nothing was changed) and a 5xx only for the daemon's own
faults. Dapr answers every engine error of an operation with that operation's code and a
500 (``ERR_PURGE_WORKFLOW`` for purging a running instance, pkg/messages); here the code
stays the operation's but the status says whose fault it was (409 for a conflict, 503
while the store cannot write), which is what the docs promise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from wfsidecar import errors

logger = logging.getLogger(__name__)

# Codes of Dapr's (pkg/messages/predefined.go) and this daemon's own.
INSTANCE_NOT_FOUND = "ERR_INSTANCE_ID_NOT_FOUND"
INSTANCE_ID_MISSING = "ERR_INSTANCE_ID_PROVIDED_MISSING"
INSTANCE_ID_INVALID = "ERR_INSTANCE_ID_INVALID"
INSTANCE_ID_TOO_LONG = "ERR_INSTANCE_ID_TOO_LONG"
NAME_MISSING = "ERR_WORKFLOW_NAME_MISSING"
EVENT_NAME_MISSING = "ERR_WORKFLOW_EVENT_NAME_MISSING"
MALFORMED_REQUEST = "ERR_MALFORMED_REQUEST"  # a body that is not the JSON asked for
INVALID_QUERY = "ERR_INVALID_QUERY"  # a query parameter this route cannot use
INVALID_CURSOR = "ERR_INVALID_CURSOR"
BODY_TOO_LARGE = "ERR_BODY_TOO_LARGE"
ROUTE_NOT_FOUND = "ERR_ROUTE_NOT_FOUND"
METHOD_NOT_ALLOWED = "ERR_METHOD_NOT_ALLOWED"
INTERNAL = "ERR_INTERNAL"

# Most specific first: the first isinstance match wins.
STATUS_TABLE: tuple[tuple[type[errors.WfSidecarError], int], ...] = (
    (errors.NotFoundError, 404),
    (errors.AlreadyExistsError, 409),
    (errors.FailedPreconditionError, 409),
    (errors.InvalidArgumentError, 400),
    (errors.ShuttingDownError, 503),
    (errors.LimitExceededError, 429),
    (errors.StoreConflictError, 409),
    (errors.StoreError, 503),
)


class ApiError(Exception):
    """An answer other than success, already in the API's words."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> web.Response:
        return error_response(self.status, self.code, self.message)


def error_response(status: int, code: str, message: str) -> web.Response:
    body = json.dumps({"errorCode": code, "message": message}, ensure_ascii=False,
                      separators=(",", ":"))
    return web.Response(status=status, text=body, content_type="application/json")


def translate(exc: errors.WfSidecarError, code: str) -> ApiError:
    """``exc`` raised by operation ``code``: an unknown instance is always
    ``ERR_INSTANCE_ID_NOT_FOUND``, anything else keeps the operation's code."""
    status = next((s for cls, s in STATUS_TABLE if isinstance(exc, cls)), 500)
    if isinstance(exc, errors.NotFoundError):
        code = INSTANCE_NOT_FOUND
    return ApiError(status, code, str(exc) if status < 500 or status == 503
                    else "internal error; see the daemon log")


def operation(code: str) -> Callable[[Handler], Handler]:
    """Name the ``ERR_`` code of a route's own failures (``ERR_PAUSE_WORKFLOW``...)."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except errors.WfSidecarError as exc:
                error = translate(exc, code)
                if error.status == 500:
                    logger.exception("unexpected error in %s", handler.__name__)
                raise error from exc
        return wrapper
    return decorate


def body_limit(max_body_size: int) -> Middleware:
    """Refuse a request whose declared body is over ``max_body_size`` before any handler
    runs (a body sent without a length is cut off by aiohttp's ``client_max_size`` as it is
    read, which ``json_errors`` turns into the same answer)."""

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > max_body_size:
            return too_large(max_body_size)
        return await handler(request)
    return limit


def too_large(max_body_size: int) -> web.Response:
    return error_response(413, BODY_TOO_LARGE, (
        f"the request body is larger than {max_body_size} bytes, the "
        "listeners.http.max_body_size limit"))


def json_errors(max_body_size: int) -> Middleware:
    """Every failure as Dapr's error JSON: ours, aiohttp's own (unknown route, wrong
    method, a body over the limit) and anything unexpected (500, logged)."""

    @web.middleware
    async def to_json(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except web.HTTPRequestEntityTooLarge:
            return too_large(max_body_size)
        except web.HTTPMethodNotAllowed as exc:
            response = error_response(405, METHOD_NOT_ALLOWED, (
                f"{request.method} is not allowed on {request.path}; allowed: "
                f"{', '.join(sorted(exc.allowed_methods))}"))
            response.headers["Allow"] = ",".join(sorted(exc.allowed_methods))
            return response
        except web.HTTPNotFound:
            return error_response(404, ROUTE_NOT_FOUND,
                                  f"no route {request.method} {request.path}")
        except web.HTTPException:
            raise
        except Exception:
            logger.exception("unexpected error serving %s %s", request.method, request.path)
            return error_response(500, INTERNAL, "internal error; see the daemon log")
    return to_json
