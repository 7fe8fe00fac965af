"""The audit log: one line per mutating management call, on the ``wfsidecar.audit`` logger.

It names the operation, its target (instance or filter), the caller's role, token id
(``tokens.token_id``: 8 hex digits of the token's SHA-256) and address, and the outcome;
never a token, never a payload.
"""

from __future__ import annotations

import logging

from wfsidecar.security.access import Role

audit_logger = logging.getLogger("wfsidecar.audit")


def record(edge: str, operation: str, target: str, role: Role | None, token: str,
           peer: str, outcome: str) -> None:
    audit_logger.info("audit %s op=%s target=%s role=%s token=%s peer=%s outcome=%s", edge,
                      operation, target or "-", role.value if role else "none", token or "-",
                      peer or "-", outcome,
                      extra={"audit": {"edge": edge, "operation": operation,
                                       "target": target, "peer": peer, "outcome": outcome,
                                       "role": role.value if role else None,
                                       "token_id": token or None}})
