"""Helpers deciding how a resolver runs: inline when its rows are loaded, else in a thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from strawberry.dataloader import DataLoader
from strawberry.utils.inspect import in_async_context

_Result = TypeVar("_Result")
_Resolver = TypeVar("_Resolver", bound=Callable[..., Any])


def in_memory(resolver: _Resolver) -> _Resolver:
    """Mark a resolver that never queries, so strawberry-django calls it inline.

    strawberry-django runs every other sync resolver through ``sync_to_async`` under async
    execution: one thread hop per object, which dominated the time of large nested lists.
    """
    resolver.is_async_safe = True  # type: ignore[attr-defined]
    return resolver


def loaded_or_in_thread(is_loaded: bool, compute: Callable[[], _Result]) -> Any:
    """Return ``compute()`` when its rows are loaded; else an awaitable running it in a thread.

    Optimized queries prefetch what the resolver reads, so it runs inline; an object the
    optimizer never saw (e.g. a mutation payload) still needs the database.
    """
    if is_loaded or not in_async_context():
        return compute()
    return sync_to_async(compute)()


def is_prefetched(instance: Any, *relations: str) -> bool:
    """Tell whether every one of ``relations`` of ``instance`` was prefetched."""
    cache = getattr(instance, "_prefetched_objects_cache", {})
    return all(relation in cache for relation in relations)


# How many turns of the event loop a hop waits for more work of the same request.
_GATHER_TURNS = 8


class SharedHops:
    """Run the synchronous work of one request that is ready together in one thread hop.

    A DataLoader dispatches its batch a turn or two of the event loop after its first
    ``load``, and the resolvers of one level of a response call theirs in the same turns:
    the inbox's business objects, open steps and the viewer's permissions were three hops
    to the request's thread and back, one after the other. Work handed to ``run`` waits
    until a turn of the loop passes without more, then all of it runs, in the order given,
    in one ``sync_to_async`` call (the request's thread, as each of them ran before); each
    caller gets its own result or exception.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]] = []
        self._seen = 0
        self._turns = 0
        # The event loop keeps only weak references to tasks: these are held until done.
        self._running: set[asyncio.Future[None]] = set()

    async def run(self, work: Callable[..., _Result], *args: Any) -> _Result:
        """Return ``work(*args)``, run in the request's thread with the work ready with it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((work, args, future))
        if len(self._pending) == 1:
            self._seen, self._turns = 0, 0
            loop.call_soon(self._wait_for_more, loop)
        return await future  # type: ignore[no-any-return]

    def _wait_for_more(self, loop: asyncio.AbstractEventLoop) -> None:
        self._turns += 1
        if len(self._pending) != self._seen and self._turns < _GATHER_TURNS:
            self._seen = len(self._pending)
            loop.call_soon(self._wait_for_more, loop)
            return
        pending, self._pending = self._pending, []
        task = asyncio.ensure_future(self._run_in_thread(pending))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    @staticmethod
    async def _run_in_thread(
        pending: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]],
    ) -> None:
        def run_all() -> list[tuple[bool, Any]]:
            outcomes: list[tuple[bool, Any]] = []
            for work, args, _ in pending:
                try:
                    outcomes.append((True, work(*args)))
                except Exception as error:  # handed to its caller, as its own hop would
                    outcomes.append((False, error))
            return outcomes

        try:
            outcomes = await sync_to_async(run_all)()
        except BaseException as error:  # e.g. cancelled: every caller learns it
            for _, _, future in pending:
                if future.done():
                    continue
                if isinstance(error, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(error)
            raise
        for (succeeded, value), (_, _, future) in zip(outcomes, pending, strict=True):
            if future.done():  # its caller was cancelled meanwhile
                continue
            if succeeded:
                future.set_result(value)
            else:
                future.set_exception(value)


class _SharedHopBatch:
    """A DataLoader's ``load_fn``: ``batch`` in a thread, in its request's shared hop if set."""

    def __init__(self, batch: Callable[[list[Any]], list[Any]]) -> None:
        self.batch = batch
        self.hops: SharedHops | None = None

    async def __call__(self, keys: list[Any]) -> list[Any]:
        if self.hops is None:
            return await sync_to_async(self.batch)(keys)
        return await self.hops.run(self.batch, keys)


def batch_loader(batch: Callable[[list[Any]], list[Any]]) -> DataLoader[Any, Any]:
    """Return a DataLoader running the sync ``batch`` (a list of keys in, one value each out) in a thread.

    ``share_hops`` lets the loaders of one request share their hops.
    """
    return DataLoader(load_fn=_SharedHopBatch(batch))


def share_hops(loaders: Any, hops: SharedHops) -> None:
    """Make the ``batch_loader`` DataLoaders among ``loaders``'s attributes run in ``hops``."""
    for loader in vars(loaders).values():
        if isinstance(loader, DataLoader) and isinstance(loader.load_fn, _SharedHopBatch):
            loader.load_fn.hops = hops
