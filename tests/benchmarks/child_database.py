"""The throwaway database a benchmark's child process measures on, and its URL for servers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit


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
