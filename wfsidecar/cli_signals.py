"""How ``wfsidecar run`` owns its process: the event loop it runs on and the signals
that stop it (SIGTERM/SIGINT drain; a second one stops at once)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("wfsidecar.cli")


def loop_factory(want_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if not want_uvloop:
        return None
    try:
        import uvloop
    except ImportError:  # optional: not built for Windows (pyproject marker)
        return None
    return uvloop.new_event_loop


class ShutdownSignals:
    """SIGTERM/SIGINT request a graceful stop; a second one cancels the main task.

    The second signal is the operator's way out of a drain that takes too long (uvicorn
    ``handle_exit`` → ``force_exit``); the App still unwinds, just without waiting.
    """

    _SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.forced = False
        self._requested = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop, self._task = loop, asyncio.current_task()
        for sig in self._SIGNALS:
            loop.add_signal_handler(sig, self.on_signal, sig)

    def remove(self) -> None:
        if self._loop is not None:
            for sig in self._SIGNALS:
                self._loop.remove_signal_handler(sig)

    def on_signal(self, sig: signal.Signals) -> None:
        if not self._requested.is_set():
            logger.info("received %s: shutting down (send it again to stop at once)", sig.name)
            self._requested.set()
        elif not self.forced and self._task is not None:
            logger.warning("received %s again: stopping without draining", sig.name)
            self.forced = True
            self._task.cancel()

    async def wait(self) -> None:
        """The ``shutdown_trigger`` handed to ``App.serve``."""
        await self._requested.wait()
