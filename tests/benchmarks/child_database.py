"""The throwaway database a benchmark's child process measures on, and its URL for servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from backend.serving import UVICORN_ARGS

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def throwaway_database_name(prefix: str) -> str:
    """Return a database name of this process's own: a temporary file on SQLite."""
    name = f"{prefix}_{os.getpid()}"
    if os.environ.get("DATABASE_URL", "sqlite").startswith("sqlite"):
        name = str(Path(tempfile.gettempdir()) / f"{name}.sqlite3")
    return name


def setup_django(test_db_name: str) -> Any:
    """Set Django up with the test settings and create ``test_db_name``; return its old config.

    A name of our own, so neither the developer's database nor pytest's test_* database is used.
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings_test"
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_databases

    connection.settings_dict.setdefault("TEST", {})["NAME"] = test_db_name
    return setup_databases(
        verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set()
    )


def server_database_url() -> str:
    """Return a DATABASE_URL naming the test database this process has just created."""
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def start_uvicorn(
    application: str, database_url: str, *extra_args: str
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``uvicorn --factory application`` on a free 127.0.0.1 port; wait until it listens.

    Returns the process and its port. ``application`` is ``module:factory``; the server uses
    the test settings and ``database_url``.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings_test",
        "DATABASE_URL": database_url,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            application,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            *UVICORN_ARGS,  # as deployed (docs/production.md)
            *extra_args,
        ],
        cwd=PROJECT_ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop_process(process)
                raise SystemExit("uvicorn did not start") from None
            time.sleep(0.1)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process``, killing it if it has not ended within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
