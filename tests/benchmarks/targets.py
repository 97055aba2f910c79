"""Pick the databases a benchmark measures: SQLite always, PostgreSQL when DATABASE_URL names it."""

from __future__ import annotations

import os


def database_targets(only: str | None, tmp: str) -> list[str]:
    """Return the database URLs to measure, honouring ``--only sqlite|postgres``."""
    database_url = os.environ.get("DATABASE_URL", "")
    targets = []
    if only != "postgres":
        # Settings point at this (never created) file; each child works on its own test file.
        targets.append(f"sqlite:///{tmp}/unused.sqlite3")
    if only != "sqlite" and database_url.startswith(("postgres://", "postgresql://")):
        targets.append(database_url)
    elif only == "postgres":
        raise SystemExit("--only postgres needs DATABASE_URL=postgres://...")
    return targets
