"""Durable storage: the ``StateStore`` Protocol and its implementations."""

from wfsidecar.store.base import Changes, Reminder, StateStore

__all__ = ["Changes", "Reminder", "StateStore"]
