"""Write the schema's SDL to ``schema/schema.graphql``: ``python -m schema.export``.

``python -m schema.export --check`` writes nothing; it prints a diff and exits with 1 when
the committed file differs from the schema. ``tests/api/test_schema_sdl.py`` runs the same check.
"""

from __future__ import annotations

import difflib
import os
import secrets
import sys
from pathlib import Path

SDL_PATH = Path(__file__).resolve().with_name("schema.graphql")
REGENERATE_COMMAND = "python -m schema.export"


def current_sdl() -> str:
    """Return the SDL of the schema as served with introspection allowed (Django must be set up)."""
    from schema.schema import introspection_schema

    return introspection_schema().as_str().rstrip("\n") + "\n"


def committed_sdl() -> str:
    """Return the committed SDL, or an empty string when there is none yet."""
    return SDL_PATH.read_text(encoding="utf-8") if SDL_PATH.exists() else ""


def sdl_diff(committed: str, current: str) -> str:
    """Return a unified diff from the committed SDL to the current one."""
    return "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            current.splitlines(keepends=True),
            fromfile="schema/schema.graphql (committed)",
            tofile="schema/schema.graphql (current schema)",
        )
    )


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    # Printing the SDL never serves a request or signs anything: a throwaway key will do.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(32))
    import django

    django.setup()


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check``, compare) ``schema/schema.graphql``; return the exit status."""
    arguments = sys.argv[1:] if argv is None else argv
    _setup_django()
    current, committed = current_sdl(), committed_sdl()
    if "--check" in arguments:
        if current == committed:
            print(f"{SDL_PATH} is up to date.")
            return 0
        print(sdl_diff(committed, current))
        print(f"{SDL_PATH} is out of date; regenerate it with: {REGENERATE_COMMAND}")
        return 1
    SDL_PATH.write_text(current, encoding="utf-8")
    print(f"Wrote {SDL_PATH}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
