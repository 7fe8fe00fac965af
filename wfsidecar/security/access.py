"""Roles a token grants and the access classes every RPC and route is sorted into."""

from __future__ import annotations

import enum


class Role(enum.Enum):
    """What a token is: an admin token, a read-only token or a worker token."""

    ADMIN = "admin"
    READ_ONLY = "read-only"
    WORKER = "worker"


class Access(enum.Enum):
    """What an RPC or route needs; each edge's table gives every one of them a class."""

    PUBLIC = "public"
    """No token: health checks only (probes cannot send one, as in Dapr)."""
    ANY = "any"
    """Any valid token: connection checks (Hello), and methods that are not served at all
    (they answer UNIMPLEMENTED or 404 only to a caller with a token)."""
    READ = "read"
    """Reads of instances and the daemon: admin and read-only tokens."""
    WORKER_READ = "worker-read"
    """Reads an SDK worker makes while running a turn (histories): every role."""
    WORK = "work"
    """Pulling and answering work items: admin and worker tokens, never read-only."""
    MANAGE = "manage"
    """Starting, changing and deleting instances: the admin token only; audited."""


GRANTS: dict[Access, frozenset[Role]] = {
    Access.PUBLIC: frozenset(Role),
    Access.ANY: frozenset(Role),
    Access.READ: frozenset({Role.ADMIN, Role.READ_ONLY}),
    Access.WORKER_READ: frozenset(Role),
    Access.WORK: frozenset({Role.ADMIN, Role.WORKER}),
    Access.MANAGE: frozenset({Role.ADMIN}),
}


def allowed(role: Role, access: Access) -> bool:
    return role in GRANTS[access]


def needed(access: Access) -> str:
    """Words for a refusal: which tokens would have been accepted."""
    roles = sorted(GRANTS[access], key=list(Role).index)
    return " or ".join(f"the {role.value} token" for role in roles)
