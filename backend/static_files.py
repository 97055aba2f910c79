"""Static files (the admin's, GraphiQL's) served by the app itself, with WhiteNoise.

Under ASGI, Django streams a file response by reading its synchronous iterator in a worker
thread and warns ("StreamingHttpResponse must consume synchronous iterators") each time. The
middleware below hands Django an asynchronous iterator instead, which reads the file in
chunks off the event loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings as django_settings
from django.http import FileResponse, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware


async def _chunks(file: Any, response: FileResponse) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(file.read, response.block_size):
            yield chunk
    finally:
        file.close()


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield  # an empty asynchronous generator (HEAD, 304)


def stream_asynchronously(response: HttpResponseBase) -> HttpResponseBase:
    """Give a file response an asynchronous body, so Django's ASGI handler streams it as is."""
    if isinstance(response, FileResponse) and not response.is_async:
        file = response.file_to_stream
        response.streaming_content = _nothing() if file is None else _chunks(file, response)
    return response


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise with asynchronous file bodies; a missing ``STATIC_ROOT`` is not an error.

    Without ``collectstatic`` (development, tests) the files come from the apps' static
    folders (``WHITENOISE_USE_FINDERS``); after it, from ``STATIC_ROOT``.

    Under ASGI it runs on the event loop (WhiteNoise's own class is synchronous only, so
    Django would hop to a thread and back for every request): a request for anything else
    costs a dictionary lookup; finding a file on disk (``WHITENOISE_AUTOREFRESH``, the
    default with ``DEBUG``) and opening it run in a thread.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any = None, settings: Any = django_settings) -> None:
        super().__init__(get_response, settings)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request: Any) -> Any:
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)

    def add_files(self, root: str, prefix: str | None = None) -> None:
        if str(root) == str(self.static_root) and not os.path.isdir(root):
            return
        super().add_files(root, prefix)

    @staticmethod
    def serve(static_file: Any, request: Any) -> HttpResponseBase:
        return stream_asynchronously(WhiteNoiseMiddleware.serve(static_file, request))
