"""Helpers deciding how a resolver runs: inline when its rows are loaded, else in a thread."""

from __future__ import annotations

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


def batch_loader(batch: Callable[[list[Any]], list[Any]]) -> DataLoader[Any, Any]:
    """Return a DataLoader running the sync ``batch`` (a list of keys in, one value each out) in a thread."""
    return DataLoader(load_fn=sync_to_async(batch))
