"""``wfsidecar`` CLI with one extra actor type, for process tests that need real load.

Runs the real CLI entry point (config loading, uvloop, signal handling, exit codes); the
only difference is that the App also hosts ``beeper`` actors, which append a line to
``$BEEPER_LOG`` on every reminder firing. ``$BEEPER_SEED`` = ``<mode>,<count>,<ms>``
arms reminders once the daemon is ready and prints ``SEEDED`` on stdout:
``once`` = one-shot reminder due in <ms>; ``every`` = periodic reminder every <ms>,
whose firings take ``$BEEPER_TURN_MS`` each (so SIGTERM finds turns in flight).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable

import wfsidecar.app
from wfsidecar.actors import ActorHost, ReminderResult, TurnContext
from wfsidecar.cli import main
from wfsidecar.config import Config
from wfsidecar.types import ActorRef


class Beeper:
    def __init__(self, ref: ActorRef, host: ActorHost) -> None:
        self.ref = ref

    async def on_invoke(self, ctx: TurnContext, method: str, payload: object) -> object:
        mode, ms = str(payload).split(",")
        if mode == "once":
            ctx.set_reminder("beep", due_ms=ctx.now_ms + int(ms))
        else:
            ctx.set_reminder("beep", due_ms=ctx.now_ms + int(ms), period_ms=int(ms))
        return None

    async def on_reminder(self, ctx: TurnContext, name: str, data: bytes) -> ReminderResult:
        await asyncio.sleep(int(os.environ.get("BEEPER_TURN_MS", "0")) / 1000)
        beats = int(ctx.get("beats") or b"0") + 1
        ctx.put("beats", str(beats).encode())
        with open(os.environ["BEEPER_LOG"], "a") as log:  # noqa: ASYNC230 - test-only, tiny
            log.write(f"FIRED {self.ref.id} {beats}\n")
        return ReminderResult.DONE


class BeeperApp(wfsidecar.app.App):
    def __init__(self, config: Config) -> None:
        super().__init__(config, actor_types={"beeper": Beeper})

    async def serve(self, shutdown_trigger: Callable[[], Awaitable[object]]) -> None:
        async def seed_then_wait() -> object:
            seed = os.environ.get("BEEPER_SEED")
            if seed and self.runtime is not None:
                mode, count, ms = seed.split(",")
                for i in range(int(count)):
                    await self.runtime.invoke(ActorRef("beeper", f"b{i}"), "arm", f"{mode},{ms}")
            print("SEEDED", flush=True)
            return await shutdown_trigger()

        await super().serve(seed_then_wait)


wfsidecar.app.App = BeeperApp  # type: ignore[misc]

if __name__ == "__main__":
    sys.exit(main())
