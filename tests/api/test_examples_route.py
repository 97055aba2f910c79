"""/examples/ serves the built dashboard example; `serve` builds it only when it can."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

from backend import urls
from backend.demo.management.commands import serve


def body(response: Any) -> bytes:
    """Read a file response's body: asynchronous, as Django's ASGI handler streams it."""
    assert response.is_async  # no "must consume synchronous iterators" warning under ASGI

    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return asyncio.run(read())


@pytest.fixture
def dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(urls, "EXAMPLES_DIST", tmp_path / "dist")
    return tmp_path / "dist"


def test_examples_explain_how_to_build_when_not_built(client, dist: Path) -> None:
    response = client.get("/examples/")
    assert response.status_code == 404
    assert b"npm run build" in response.content


def test_examples_serve_the_app_and_its_assets(client, dist: Path, tmp_path: Path) -> None:
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<div id=app></div>")
    (dist / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("outside")

    assert client.get("/examples").status_code in (301, 302)
    index = client.get("/examples/")
    assert index.status_code == 200 and b"id=app" in body(index)
    assert index["Cache-Control"] == "no-cache"
    asset = client.get("/examples/assets/index-abc.js")
    assert asset.status_code == 200 and b"console.log" in body(asset)
    # Unknown paths (client-side routes) get the app; nothing outside dist is served.
    for path in ("/examples/inbox", "/examples/../secret.txt", "/examples/%2e%2e/secret.txt"):
        response = client.get(path)
        if response.status_code == 200:
            assert b"outside" not in body(response), path


def test_serve_skips_the_build_with_a_note_when_npm_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "web").mkdir()
    monkeypatch.setattr(serve, "EXAMPLE_DIR", tmp_path / "web")
    monkeypatch.setattr(serve.shutil, "which", lambda name: None)
    out = io.StringIO()
    command = serve.Command(stdout=out)
    command.build_examples()
    assert "npm is not installed" in out.getvalue()
    assert not (tmp_path / "web" / "dist").exists()
