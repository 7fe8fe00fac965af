"""Input checks that every ``StateStore.commit`` applies before touching anything.

Both stores run the same checks so that a bad ``Changes`` value fails the same way on
each of them (the contract suite asserts it): with ``StoreError`` and nothing applied.
Checking up front is what lets the SQLite store keep one caller's mistake out of a
group-commit batch shared with other callers, and what keeps the memory store's commit
all-or-nothing without a rollback path.
"""

from __future__ import annotations

from wfsidecar.errors import StoreError
from wfsidecar.store.base import (
    Changes,
    DeleteActor,
    DeleteReminder,
    DeleteState,
    Op,
    PutInstance,
    PutState,
    RescheduleReminder,
    SetReminder,
)
from wfsidecar.store.instances import InstanceRow
from wfsidecar.types import ActorRef

# SQLite INTEGER is a signed 64-bit value; the memory store enforces the same range so a
# test that passes on memory cannot overflow on SQLite.
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def checked_ops(changes: Changes) -> list[Op]:
    """Return a private copy of ``changes.ops`` after checking every field's type.

    The copy matters: a group-committed caller's ops wait in a queue, and the caller must
    not be able to change them by reusing its ``Changes`` value.

    Raises:
        StoreError: an op has a wrong type, a non-str key or name, a non-bytes value or
            payload, or an integer outside the signed 64-bit range.
    """
    if not isinstance(changes, Changes):
        raise StoreError(f"commit expects Changes, got {type(changes).__name__}")
    ops = list(changes.ops)
    for index, op in enumerate(ops):
        if not _plainly_valid(op):
            try:
                _check_op(op)
            except StoreError as exc:
                raise StoreError(f"op #{index} ({type(op).__name__}): {exc}") from None
    return ops


def _plainly_valid(op: Op) -> bool:
    """Fast path for the common shapes, using exact types only.

    This runs on the event loop for every op of every commit, and the isinstance-based
    check below was the largest loop-side cost of a commit in bench/store_commit.py.
    A False here is not a rejection: ``_check_op`` decides (e.g. for str subclasses).
    """
    if type(op) is PutState:
        ref = op.ref
        return (
            type(op.value) is bytes and type(op.key) is str and op.key.isascii() and _plain_ref(ref)
        )
    if type(op) is SetReminder:
        r = op.reminder
        ref = r.ref
        return (
            _plain_ref(ref)
            and type(r.name) is str
            and r.name.isascii()
            and type(r.data) is bytes
            and type(r.due_ms) is int
            and _fits(r.due_ms)
            and (r.period_ms is None or (type(r.period_ms) is int and _fits(r.period_ms)))
            and type(r.attempts) is int
            and _fits(r.attempts)
            and type(r.etag) is int
            and _fits(r.etag)
        )
    return False


def _plain_ref(ref: object) -> bool:
    # isascii() is O(1) on CPython (a flag on the string); non-ASCII text takes the slow
    # path, which checks that it encodes to UTF-8.
    return (
        type(ref) is ActorRef
        and type(ref.type) is str
        and ref.type.isascii()
        and type(ref.id) is str
        and ref.id.isascii()
    )


def _fits(value: int) -> bool:
    return _INT64_MIN <= value <= _INT64_MAX


def _check_op(op: Op) -> None:
    if isinstance(op, PutState):
        _check_ref(op.ref)
        _check_str("key", op.key)
        _check_bytes("value", op.value)
    elif isinstance(op, DeleteState):
        _check_ref(op.ref)
        _check_str("key", op.key)
    elif isinstance(op, DeleteActor):
        _check_ref(op.ref)
    elif isinstance(op, SetReminder):
        r = op.reminder
        _check_ref(r.ref)
        _check_str("name", r.name)
        _check_int("due_ms", r.due_ms)
        if r.period_ms is not None:
            _check_int("period_ms", r.period_ms)
        _check_bytes("data", r.data)
        _check_int("attempts", r.attempts)
        _check_int("etag", r.etag)
    elif isinstance(op, DeleteReminder):
        _check_ref(op.ref)
        _check_str("name", op.name)
        if op.if_etag is not None:
            _check_int("if_etag", op.if_etag)
    elif isinstance(op, RescheduleReminder):
        _check_ref(op.ref)
        _check_str("name", op.name)
        _check_int("if_etag", op.if_etag)
        _check_int("due_ms", op.due_ms)
        _check_int("attempts", op.attempts)
    elif isinstance(op, PutInstance):
        _check_ref(op.ref)
        _check_row(op.row)
    else:
        raise StoreError(f"unknown op type {type(op).__name__}")


def _check_row(row: object) -> None:
    if not isinstance(row, InstanceRow):
        raise StoreError(f"row must be an InstanceRow, got {type(row).__name__}")
    for name in ("instance_id", "name", "dialect"):
        _check_str(name, getattr(row, name))
    for name in ("version", "parent_id", "stall_reason", "custom_status"):
        if getattr(row, name) is not None:
            _check_str(name, getattr(row, name))
    for name in ("status", "created_ms", "updated_ms", "history_len", "stored_bytes"):
        _check_int(name, getattr(row, name))
    if row.completed_ms is not None:
        _check_int("completed_ms", row.completed_ms)


def _check_ref(ref: object) -> None:
    if not isinstance(ref, ActorRef):
        raise StoreError(f"ref must be an ActorRef, got {type(ref).__name__}")
    _check_str("ref.type", ref.type)
    _check_str("ref.id", ref.id)


def _check_str(what: str, value: object) -> None:
    if not isinstance(value, str):
        raise StoreError(f"{what} must be str, got {type(value).__name__}")
    if not value.isascii():
        # A lone surrogate cannot be stored as SQLite TEXT; refusing it here keeps it
        # from failing a whole group-commit batch while actor ids are resolved.
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise StoreError(f"{what} is not valid Unicode text: {exc.reason}") from None


def _check_bytes(what: str, value: object) -> None:
    # bytearray and memoryview are refused: the memory store would keep a mutable alias.
    if not isinstance(value, bytes):
        raise StoreError(f"{what} must be bytes, got {type(value).__name__}")


def _check_int(what: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise StoreError(f"{what} must be int, got {type(value).__name__}")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise StoreError(f"{what}={value} does not fit in a signed 64-bit integer")
