"""ActorRuntime: activation table, one turn at a time per actor, idle deactivation.

Each turn is one store transaction. The runtime loads an actor's state on activation,
hands the actor a ``TurnContext``, commits the context's changes once and only then
merges them into its cache. Any failure or cancellation resets the activation (fresh actor
instance, state reloaded from the store), so nothing a failed turn did stays in memory.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from wfsidecar.actors import heap
from wfsidecar.actors.activation import (
    REJECTIONS,
    Activation,
    CommitListener,
    KeepAlive,
    ResetListener,
    TurnBody,
    call_chain,
)
from wfsidecar.actors.base import Actor, ActorFactory, Discardable
from wfsidecar.actors.turn import TurnContext
from wfsidecar.clock import Clock
from wfsidecar.errors import (
    ActorCallCycleError,
    NotFoundError,
    ShuttingDownError,
)
from wfsidecar.store.base import StateStore
from wfsidecar.telemetry import log_context
from wfsidecar.telemetry.observer import NULL, Observer
from wfsidecar.types import ActorRef

logger = logging.getLogger(__name__)

T = TypeVar("T")
class ActorRuntime:
    """Hosts actors of registered types; implements ``ActorHost``."""

    def __init__(self, store: StateStore, clock: Clock, *, idle_timeout: float,
                 observer: Observer = NULL) -> None:
        self._store = store
        self._observer = observer
        self._clock = clock
        self._idle_timeout = idle_timeout
        self._factories: dict[str, ActorFactory] = {}
        self._instance_of: dict[str, Callable[[str], str]] = {}
        self._table: OrderedDict[ActorRef, Activation] = OrderedDict()
        self._listeners: list[CommitListener] = []
        self._reset_listeners: list[ResetListener] = []
        self._keep_alive: list[KeepAlive] = []
        self._etags = itertools.count(clock.now_ms() * 1000)
        self._accepting = True
        self._turn_tasks: dict[asyncio.Task[object], int] = {}
        self._no_turns = asyncio.Event()
        self._no_turns.set()
        self._table_changed = asyncio.Event()

    # -- registration ------------------------------------------------------------------

    def register(self, actor_type: str, factory: ActorFactory, *,
                 instance_of: Callable[[str], str] | None = None) -> None:
        """``instance_of`` names the workflow instance an actor id belongs to, for the log
        lines of its turns (default: the id itself)."""
        if actor_type in self._factories:
            raise ValueError(f"actor type {actor_type!r} is already registered")
        self._factories[actor_type] = factory
        if instance_of is not None:
            self._instance_of[actor_type] = instance_of

    def add_commit_listener(self, listener: CommitListener) -> None:
        """Call ``listener(changes)`` after every committed turn (the reminder scheduler)."""
        self._listeners.append(listener)

    def add_reset_listener(self, listener: ResetListener) -> None:
        """Call ``listener(ref)`` when a failed turn throws an actor's memory away."""
        self._reset_listeners.append(listener)

    def add_keep_alive(self, check: KeepAlive) -> None:
        """Never deactivate an idle actor while ``check(ref)`` is true (work in flight)."""
        self._keep_alive.append(check)

    @property
    def active_count(self) -> int:
        return len(self._table)

    def active_by_type(self) -> dict[str, int]:
        """Activations held in memory, per registered actor type (registered types with
        none count 0)."""
        counts = dict.fromkeys(self._factories, 0)
        for ref in self._table:
            counts[ref.type] = counts.get(ref.type, 0) + 1
        return counts

    def is_active(self, ref: ActorRef) -> bool:
        return ref in self._table

    def new_etag(self) -> int:
        return next(self._etags)

    # -- turns -------------------------------------------------------------------------

    async def invoke(self, ref: ActorRef, method: str, payload: object = None) -> object:
        async def body(actor: Actor, ctx: TurnContext) -> object:
            return await actor.on_invoke(ctx, method, payload)

        return await self.turn(ref, body)

    async def turn(self, ref: ActorRef, body: TurnBody[T]) -> T:
        """Run ``body`` as one turn of ``ref`` and commit what it changed.

        Raises whatever ``body`` raises (after rolling back), plus the errors listed on
        ``ActorHost.invoke``.
        """
        if not self._accepting:
            raise ShuttingDownError("the actor runtime is draining; no new turns")
        chain = call_chain.get()
        if ref in chain:
            path = " -> ".join(str(r) for r in (*chain, ref))
            raise ActorCallCycleError(f"actor call cycle would deadlock: {path}")
        activation = self._activate(ref)
        task = asyncio.current_task()
        self._enter(task)
        activation.users += 1
        token = call_chain.set((*chain, ref))
        instance_of = self._instance_of.get(ref.type)
        try:
            with log_context.bound(instance_of(ref.id) if instance_of else ref.id):
                async with activation.lock:
                    return await self._run_turn(ref, activation, body)
        finally:
            call_chain.reset(token)
            activation.users -= 1
            activation.last_used = self._clock.monotonic()
            if ref in self._table:
                self._table.move_to_end(ref)
            self._leave(task)

    async def _run_turn(self, ref: ActorRef, activation: Activation, body: TurnBody[T]) -> T:
        began, ok = time.perf_counter(), False
        try:
            result = await self._turn_body(ref, activation, body)
            ok = True
            return result
        finally:
            self._observer.turn_finished(ref.type, time.perf_counter() - began, ok)

    async def _turn_body(self, ref: ActorRef, activation: Activation, body: TurnBody[T]) -> T:
        ctx: TurnContext | None = None
        try:
            if activation.state is None:
                activation.state = await self._store.load_actor(ref)
            generation = activation.generation
            ctx = TurnContext(
                ref, activation.state, now_ms=self._clock.now_ms(), new_etag=self.new_etag
            )
            result = await body(activation.actor, ctx)
            if ctx.changes:
                await self._store.commit(ctx.changes)
        except REJECTIONS:
            # A request refused up front (unknown id, duplicate, wrong state, bad input):
            # actors raise these before changing anything, so the activation stays warm -
            # and its work in flight (a dispatched work item) is not thrown away.
            if ctx is None or ctx.changes:
                self._reset(ref, activation)
            raise
        except BaseException:
            # Includes cancellation: whether or not the commit landed is unknown to this
            # cache, so the next turn starts from a fresh instance and the store's truth.
            self._reset(ref, activation)
            raise
        activation.state = ctx.merged_state() if generation == activation.generation else None
        for other in ctx.foreign_refs:
            stale = self._table.get(other)
            if stale is not None:
                stale.generation += 1
                stale.state = None
        if ctx.changes:
            for listener in self._listeners:
                listener(ctx.changes)
        for callback in ctx.after_commit:
            callback()
        return result

    def _activate(self, ref: ActorRef) -> Activation:
        activation = self._table.get(ref)
        if activation is None:
            factory = self._factories.get(ref.type)
            if factory is None:
                raise NotFoundError(f"no actor type {ref.type!r} is registered")
            activation = Activation(factory(ref, self), last_used=self._clock.monotonic())
            self._table[ref] = activation
            if len(self._table) == 1:
                self._table_changed.set()
        return activation

    def _reset(self, ref: ActorRef, activation: Activation) -> None:
        if isinstance(activation.actor, Discardable):
            activation.actor.on_discard()
        activation.actor = self._factories[ref.type](ref, self)
        activation.state = None
        activation.generation += 1
        for listener in self._reset_listeners:
            listener(ref)

    def _enter(self, task: asyncio.Task[object] | None) -> None:
        if task is not None:
            self._turn_tasks[task] = self._turn_tasks.get(task, 0) + 1
        self._no_turns.clear()

    def _leave(self, task: asyncio.Task[object] | None) -> None:
        if task is not None:
            left = self._turn_tasks[task] - 1
            if left:
                self._turn_tasks[task] = left
            else:
                del self._turn_tasks[task]
        if not self._turn_tasks:
            self._no_turns.set()

    def evict_all(self) -> None:
        """Forget every activation (after a wholesale change made outside their turns);
        busy ones are rebuilt from the store at their next turn."""
        for ref, activation in list(self._table.items()):
            if activation.users:
                self._reset(ref, activation)
            else:
                del self._table[ref]

    def evict(self, which: Callable[[ActorRef], bool]) -> int:
        """Throw away the activations ``which`` selects as a failed turn would (work they
        have out is dropped and their parked reminders fire again); return how many.
        For actors this daemon no longer owns, or may have missed writes to."""
        chosen = [(ref, act) for ref, act in self._table.items() if which(ref)]
        for ref, activation in chosen:
            self._reset(ref, activation)
            if not activation.users:
                del self._table[ref]
        return len(chosen)

    # -- idle deactivation -------------------------------------------------------------

    async def run_idle_reaper(self) -> None:
        """Drop activations idle longer than ``idle_timeout``; runs until cancelled.

        One loop for the whole table: it sleeps until the least recently used activation
        expires (the table is ordered by last use) and a little longer, so that actors
        activated in a burst are unloaded in a few batches, not one wakeup each (which
        cost 30 ms of CPU a second while 10,000 idle instances expired, issue #14).
        """
        slack, unloaded = min(1.0, self._idle_timeout / 10), 0
        while True:
            first = next(iter(self._table.items()), None)
            now = self._clock.monotonic()
            if first is not None and now >= first[1].last_used + self._idle_timeout:
                ref, activation = first
                if activation.users or any(check(ref) for check in self._keep_alive):
                    # Busy past its idle time (a long turn, a queue of callers, or a work
                    # item a worker is still running, whose answer needs this instance's
                    # memory): it counts as used now; its turn's end refreshes it again.
                    self._table.move_to_end(ref)
                    activation.last_used = now
                else:
                    del self._table[ref]
                    unloaded += 1
                    logger.debug("deactivated idle actor %s", ref)
                continue
            if unloaded >= heap.TRIM_AFTER_UNLOADS:
                heap.return_free_memory()
                unloaded = 0
            self._table_changed.clear()
            await self._clock.wait(self._table_changed, None if first is None else
                                   first[1].last_used + self._idle_timeout - now + slack)

    # -- drain -------------------------------------------------------------------------

    async def drain(self, deadline: float) -> None:
        """Refuse new turns, let in-flight ones finish for ``deadline`` s, then cancel them."""
        self._accepting = False
        if self._no_turns.is_set():
            return
        logger.info("draining %d in-flight actor turns", len(self._turn_tasks))
        try:
            async with asyncio.timeout(deadline):
                await self._no_turns.wait()
        except TimeoutError:
            tasks = list(self._turn_tasks)
            for task in tasks:
                task.cancel()
            logger.warning("cancelled %d actor turns after the %.1fs drain timeout",
                           len(tasks), deadline)
