"""Real server processes for multi-process tests and benchmarks: uvicorn and, if needed, Redis.

Every wait is bounded, and every process started here is stopped by the context managers
(or ``stop()``), also when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from backend.serving import UVICORN_ARGS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url_of(settings_dict: dict[str, Any]) -> str:
    """Return a DATABASE_URL for the database a connection uses *now* (e.g. pytest's test DB)."""
    engine, name = settings_dict["ENGINE"], str(settings_dict["NAME"])
    if engine.endswith("sqlite3"):
        if name == ":memory:" or name.startswith("file:"):
            raise RuntimeError("another process cannot open an in-memory SQLite database")
        return f"sqlite:///{Path(name).resolve()}"
    if "postgresql" not in engine:
        raise RuntimeError(f"unsupported database engine {engine}")
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(name, safe='')}"


def redis_url_with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


def redis_reachable(url: str, timeout: float = 1.0) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _stop(process: subprocess.Popen, timeout: float = 5.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


@contextlib.contextmanager
def redis_server(db: int, *, startup_timeout: float = 5.0) -> Iterator[str]:
    """Yield a Redis URL with database ``db``: the configured Redis if it answers, else our own.

    The configured Redis is ``REDIS_URL`` (or redis://127.0.0.1:6379). When it does not answer,
    a throwaway ``redis-server`` (no persistence) runs on a free port until the block ends.
    """
    configured = redis_url_with_db(os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL, db)
    if redis_reachable(configured):
        yield configured
        return
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/{db}"
    try:
        deadline = time.monotonic() + startup_timeout
        while not redis_reachable(url, timeout=0.2):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {port} did not start")
            time.sleep(0.05)
        yield url
    finally:
        _stop(process)


class UvicornServer:
    """``python -m uvicorn <app>`` on a free 127.0.0.1 port; output goes to a temporary file."""

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str | None,
        app: str = "backend.asgi:application",
        extra_env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="uvicorn-", suffix=".log", delete=False)  # noqa: SIM115
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "backend.settings_test",
            "DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        env.pop("REDIS_URL", None)
        if redis_url:
            env["REDIS_URL"] = redis_url
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                app,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
                *UVICORN_ARGS,  # as deployed (docs/production.md)
                *(extra_args or []),
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def wait_ready(self, deadline: float) -> None:
        """Poll until the port accepts connections; fail at ``deadline`` (time.monotonic())."""
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"uvicorn exited early:\n{self.output()}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"uvicorn not ready on port {self.port}:\n{self.output()}"
                    ) from None
                time.sleep(0.05)

    def output(self, limit: int = 4000) -> str:
        self.log.flush()
        text = Path(self.log.name).read_text(errors="replace")
        return text[-limit:]

    def stop(self) -> None:
        _stop(self.process)
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


@contextlib.contextmanager
def uvicorn_servers(
    count: int, *, timeout: float = 20.0, **kwargs: Any
) -> Iterator[list[UvicornServer]]:
    """Start ``count`` servers side by side, wait until all accept connections, stop them at the end."""
    servers: list[UvicornServer] = []
    try:
        for _ in range(count):
            servers.append(UvicornServer(**kwargs))
        deadline = time.monotonic() + timeout
        for server in servers:
            server.wait_ready(deadline)
        yield servers
    finally:
        for server in servers:
            server.stop()


def redis_group_size(redis_url: str, group: str, prefix: str = "asgi") -> int:
    """Members of a channels-redis group (its sorted set ``<prefix>:group:<name>``)."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return int(client.zcard(f"{prefix}:group:{group}"))
    finally:
        client.close()
