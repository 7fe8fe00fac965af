"""Giving memory freed by idle unloading back to the operating system.

Unloading thousands of idle actors frees their Python objects, but the C allocator keeps
the pages (protobuf arenas, byte strings and dict tables all come from malloc), so the
daemon's resident size stayed at its peak: 5.7 KB per unloaded waiting instance in
bench/scale.py idle, against a target of 1 KB (issue #14). glibc's ``malloc_trim`` returns
free pages, from the middle of the heap too; elsewhere (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

# Unloads after which a trim is worth its cost (it walks the heap: a few ms at most).
TRIM_AFTER_UNLOADS = 1000


def _find_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _find_trim()


def return_free_memory() -> None:
    """Hand the allocator's free pages back to the system, where it can."""
    if _TRIM is not None:
        _TRIM(0)
