"""DataLoader batches of one request that are ready together share one hop to its thread."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest.mock import patch

import pytest
from asgiref.sync import SyncToAsync

from schema.resolution import SharedHops, batch_loader, share_hops


class _Loaders:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Any]]] = []
        self.doubled = batch_loader(self._batch("doubled", lambda key: key * 2))
        self.named = batch_loader(self._batch("named", lambda key: f"#{key}"))
        self.failing = batch_loader(self._failing)

    def _batch(self, name: str, value: Any) -> Any:
        def batch(keys: list[Any]) -> list[Any]:
            self.calls.append((name, list(keys)))
            return [value(key) for key in keys]

        return batch

    def _failing(self, keys: list[Any]) -> list[Any]:
        self.calls.append(("failing", list(keys)))
        raise ValueError("no such rows")


def _counting_hops() -> tuple[list[str], Any]:
    hops: list[str] = []
    hop = SyncToAsync.__call__

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(self.func.__qualname__)
        return hop(self, *args, **kwargs)

    return hops, patch.object(SyncToAsync, "__call__", counted)


async def test_loads_started_together_share_one_hop():
    loaders = _Loaders()
    share_hops(loaders, SharedHops())
    hops, counting = _counting_hops()

    with counting:
        results = await asyncio.gather(
            loaders.doubled.load(1),
            loaders.named.load(1),
            loaders.doubled.load(2),
            loaders.named.load(3),
        )

    assert results == [2, "#1", 4, "#3"]
    assert len(hops) == 1
    assert sorted(loaders.calls) == [("doubled", [1, 2]), ("named", [1, 3])]


async def test_a_load_that_waits_for_another_takes_the_next_hop():
    loaders = _Loaders()
    share_hops(loaders, SharedHops())
    hops, counting = _counting_hops()

    async def chained() -> str:
        return await loaders.named.load(await loaders.doubled.load(5))

    with counting:
        result = await chained()

    assert result == "#10"
    assert len(hops) == 2


async def test_a_failing_batch_fails_only_its_own_loads():
    loaders = _Loaders()
    share_hops(loaders, SharedHops())
    hops, counting = _counting_hops()

    with counting:
        results = await asyncio.gather(
            loaders.doubled.load(1), loaders.failing.load(1), return_exceptions=True
        )

    assert results[0] == 2
    assert isinstance(results[1], ValueError) and str(results[1]) == "no such rows"
    assert len(hops) == 1


async def test_loaders_without_shared_hops_take_one_hop_each():
    loaders = _Loaders()
    hops, counting = _counting_hops()

    with counting:
        await asyncio.gather(loaders.doubled.load(1), loaders.named.load(1))

    assert len(hops) == 2


@pytest.mark.django_db
def test_the_request_loaders_share_their_hops():
    from schema.dataloaders import Loaders

    loaders = Loaders()

    shared = [
        loader.load_fn.hops
        for loader in vars(loaders).values()
        if hasattr(getattr(loader, "load_fn", None), "hops")
    ]
    assert len(shared) >= 10 and all(hops is loaders.hops for hops in shared)
