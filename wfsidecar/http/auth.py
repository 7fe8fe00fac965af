"""The HTTP edge's access control: one table classifying every route, and the middleware
that enforces it (docs/security.md).

A token comes as the ``dapr-api-token`` header (Dapr's) or ``Authorization: Bearer``.
Missing or unknown: 401 ``ERR_API_TOKEN_MISSING`` / ``ERR_API_TOKEN_INVALID``; a token of a
role that may not call the route: 403 ``ERR_PERMISSION_DENIED``; over its rate: 429
``ERR_TOO_MANY_REQUESTS``. The health routes need no token, as in Dapr, nor the dashboard's
static files. An unmatched path
needs any valid token before it is told 404. Every MANAGE route is audited.
"""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from wfsidecar.http.errors import error_response
from wfsidecar.security import audit
from wfsidecar.security.access import Access
from wfsidecar.security.gate import Decision, Gate, Refusal, bearer

_WF = "/workflows/{component}"
_INSTANCE = _WF + "/{instanceID}"
# Versioned routes are written without their prefix (/v1.0, /v1.0-beta1, /v1.0-alpha1).
_VERSION = re.compile(r"^/v1\.0(?:-beta1|-alpha1)?(?=/)")

# The one table: (method, route template) → what it needs. HEAD goes as GET.
ROUTE_ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/healthz"): Access.PUBLIC,
    ("GET", "/healthz/outbound"): Access.PUBLIC,
    # Dapr's workflow API.
    ("POST", _WF + "/{workflowName}/start"): Access.MANAGE,
    ("GET", _INSTANCE): Access.READ,
    ("POST", _INSTANCE + "/raiseEvent/{eventName}"): Access.MANAGE,
    ("POST", _INSTANCE + "/pause"): Access.MANAGE,
    ("POST", _INSTANCE + "/resume"): Access.MANAGE,
    ("POST", _INSTANCE + "/terminate"): Access.MANAGE,
    ("POST", _INSTANCE + "/purge"): Access.MANAGE,
    # Extensions.
    ("GET", _WF): Access.READ,
    ("GET", _INSTANCE + "/history"): Access.READ,
    ("GET", _INSTANCE + "/diagnostics"): Access.READ,
    ("POST", _INSTANCE + "/rerun"): Access.MANAGE,
    ("POST", _WF + "/terminate"): Access.MANAGE,
    ("POST", _WF + "/purge"): Access.MANAGE,
    ("GET", "/metadata"): Access.READ,
    ("GET", "/openapi.json"): Access.READ,
    # The metrics listener's one route (its own port; the same middleware guards it).
    ("GET", "/metrics"): Access.READ,
    ("GET", "/storage"): Access.READ,  # the storage report (retention, issue #13 item 5)
    # The dashboard's static files (http/dashboard.py): no data and no secret in them, and a
    # browser cannot send a header when it opens a page; what they fetch needs a token.
    ("GET", "/ui"): Access.PUBLIC,
    ("GET", "/ui/"): Access.PUBLIC,
    ("GET", "/ui/{asset}"): Access.PUBLIC,
}

_CODES = {Refusal.UNAUTHENTICATED: 401, Refusal.FORBIDDEN: 403, Refusal.RATE_LIMITED: 429}


def route_key(method: str, canonical: str) -> tuple[str, str]:
    return ("GET" if method == "HEAD" else method, _VERSION.sub("", canonical))


def undecided(app: web.Application) -> list[str]:
    """Routes of ``app`` the table has no decision for (a start-up error)."""
    missing = []
    for route in app.router.routes():
        if route.method == "*" or route.resource is None:
            continue
        key = route_key(route.method, route.resource.canonical)
        if key not in ROUTE_ACCESS:
            missing.append(f"{route.method} {route.resource.canonical}")
    return sorted(missing)


def access_of(request: web.Request) -> Access:
    resource = request.match_info.route.resource
    if resource is None:  # unknown path or method: 404/405 only for a caller with a token
        return Access.ANY
    return ROUTE_ACCESS.get(route_key(request.method, resource.canonical), Access.ANY)


def presented_token(request: web.Request) -> str | None:
    token = request.headers.get("dapr-api-token")
    if token:
        return token
    authorization = request.headers.get("Authorization")
    return bearer(authorization) if authorization else None


def authenticating(gate: Gate) -> Middleware:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        access = access_of(request)
        if access is Access.PUBLIC:
            return await handler(request)
        operation = f"{request.method} {request.path}"
        decision = gate.check(access, presented_token(request), operation)
        if decision.refusal is not None:
            status = _CODES[decision.refusal]
            if access is Access.MANAGE:
                _audit(request, decision, str(status))
            code = {401: "ERR_API_TOKEN_MISSING" if presented_token(request) is None
                    else "ERR_API_TOKEN_INVALID",
                    403: "ERR_PERMISSION_DENIED", 429: "ERR_TOO_MANY_REQUESTS"}[status]
            return error_response(status, code, decision.message)
        if access is not Access.MANAGE:
            return await handler(request)
        outcome = "500"
        try:
            response = await handler(request)
            outcome = str(response.status)
            return response
        except web.HTTPException as exc:
            outcome = str(exc.status)
            raise
        finally:
            _audit(request, decision, outcome)
    return authenticate


def _audit(request: web.Request, decision: Decision, outcome: str) -> None:
    instance = request.match_info.get("instanceID")
    target = f"instance={instance}" if instance else (
        f"filter={request.query_string}" if request.query_string else "")
    route = request.match_info.route.resource
    operation = f"{request.method} {route.canonical if route else request.path}"
    audit.record("http", operation, target, decision.role, decision.token_id,
                 request.remote or "", outcome)
