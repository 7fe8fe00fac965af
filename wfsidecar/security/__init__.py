"""Who may call the daemon: tokens and roles, the access gate both edges consult, TLS
material, rate limits and the exposure check (docs/security.md).

The edges (``server/auth.py``, ``http/auth.py``) classify every RPC and route in one table
each and ask the ``Gate``; nothing below the edges ever sees a token.
"""
