"""The one decision both edges ask for: may this caller make this call?"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from wfsidecar.security.access import Access, Role, allowed, needed
from wfsidecar.security.rate import RateLimiter
from wfsidecar.security.tokens import Credentials, digest, token_id

logger = logging.getLogger(__name__)

MISSING_TOKEN = ("missing api token: send it as 'dapr-api-token' (the Dapr SDKs send "
                 "DAPR_API_TOKEN) or as 'authorization: Bearer <token>'")
INVALID_TOKEN = "invalid api token"  # Dapr's words; never the token itself


class Refusal(enum.Enum):
    UNAUTHENTICATED = "unauthenticated"  # no token, or not one of ours
    FORBIDDEN = "forbidden"  # a valid token of a role that may not make this call
    RATE_LIMITED = "rate-limited"


@dataclass(frozen=True, slots=True)
class Decision:
    role: Role | None  # None only when refused as unauthenticated; ADMIN when auth is off
    refusal: Refusal | None = None
    message: str = ""
    token_id: str = ""  # tokens.token_id of a valid token sent; "" without one


class Gate:
    """Tokens, roles and rates; ``enabled`` when any token is configured."""

    def __init__(self, credentials: Credentials, limiter: RateLimiter | None = None) -> None:
        self.credentials = credentials
        self._limiter = limiter

    @property
    def enabled(self) -> bool:
        return self.credentials.enabled

    def check(self, access: Access, token: str | None, operation: str) -> Decision:
        """Decide one call of ``operation`` (named in a refusal's message)."""
        if access is Access.PUBLIC:
            return Decision(Role.ADMIN)
        role, sent = Role.ADMIN, ""
        key: bytes | str = "anonymous"  # without tokens, every caller shares one rate
        if self.credentials.enabled:
            if not token:
                return Decision(None, Refusal.UNAUTHENTICATED, MISSING_TOKEN)
            found = self.credentials.role_of(token)
            if found is None:
                return Decision(None, Refusal.UNAUTHENTICATED, INVALID_TOKEN)
            role, key = found, digest(token)
            sent = token_id(key)
            if not allowed(role, access):
                return Decision(role, Refusal.FORBIDDEN,
                                f"{operation} needs {needed(access)}; "
                                f"the token sent is a {role.value} token", sent)
        if self._limiter is not None and not self._limiter.allow(key):
            return Decision(role, Refusal.RATE_LIMITED,
                            f"request rate over security.rate_limit "
                            f"({self._limiter.rate:g}/s, burst {self._limiter.burst}) "
                            f"for this {'token' if self.enabled else 'daemon (no tokens)'}",
                            sent)
        return Decision(role, token_id=sent)


def bearer(value: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, or None."""
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
