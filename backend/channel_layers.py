"""The in-memory channel layer, fit for a thousand subscribers in one process.

channels' ``InMemoryChannelLayer`` scans every channel and every group membership on each
``receive`` and ``group_send`` (expiry cleanup), deep-copies the message for every member
and starts one task per member: a group_send to N subscribers costs O(N^2) and kept a
process busy for seconds at N=1,000. This subclass

- runs the expiry cleanup at most once per ``CLEAN_INTERVAL_SECONDS``;
- copies a group message once and hands the same copy to every member (receivers read
  messages, they never change them), putting it straight into their queues.

Like its base class it works inside one process only: use channels-redis (``REDIS_URL``)
for several workers or hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from copy import deepcopy
from typing import Any

from channels.layers import InMemoryChannelLayer


class FanOutInMemoryChannelLayer(InMemoryChannelLayer):
    CLEAN_INTERVAL_SECONDS = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_clean = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now < self._next_clean:
            return
        self._next_clean = now + self.CLEAN_INTERVAL_SECONDS
        super()._clean_expired()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        members = self.groups.get(group)
        if not members:
            return
        entry = (time.time() + self.expiry, deepcopy(message))
        for channel in list(members):
            queue = self.channels.get(channel)
            if queue is None:
                queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
            with contextlib.suppress(asyncio.QueueFull):  # as in the base class: a full
                queue.put_nowait(entry)  # channel misses the message
