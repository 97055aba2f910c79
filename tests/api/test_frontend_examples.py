"""The dashboard example (frontend-examples/web) builds and passes its browser test.

Runs ``npm ci`` (when node_modules is missing), ``npm run build`` (which validates every
GraphQL document against schema/schema.graphql and type-checks the app) and
``node tests/e2e.mjs``: Debian's chromium, driven by playwright-core, against
``manage.py serve`` with the demo data. Needs Node.js 20.19+ with npm and /usr/bin/chromium
(``apt-get update && apt-get install -y chromium``). Without them the test is skipped and
says how to install them; in CI (``CI=true``) it fails instead, so CI cannot pass without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "frontend-examples" / "web"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _run(
    command: list[str], *, timeout: float, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            command, cwd=WEB, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as error:
        output = (
            (error.stdout or b"").decode(errors="replace")
            if isinstance(error.stdout, bytes)
            else (error.stdout or "")
        )
        pytest.fail(
            f"`{' '.join(command)}` did not finish within {timeout:.0f} s:\n{output[-6000:]}"
        )
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(command)}` (in {WEB}) exited with {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-8000:]}\n--- stderr ---\n{result.stderr[-8000:]}"
        )
    return result


def missing_tools() -> str | None:
    """Say what the browser test needs and how to install it, or None when all is there."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        return (
            "The dashboard example needs Node.js 20.19+ and npm on PATH; install them with: "
            "sudo apt-get update && sudo apt-get install -y nodejs npm (or from nodejs.org)."
        )
    if not Path(CHROMIUM).exists():
        return (
            f"The browser test needs Debian's chromium at {CHROMIUM}; install it with: "
            "sudo apt-get update && sudo apt-get install -y chromium (or set CHROMIUM_PATH)."
        )
    return None


def test_dashboard_builds_and_passes_the_browser_test() -> None:
    missing = missing_tools()
    if missing is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(missing)  # CI must run the browser test, never skip it
        pytest.skip(missing)
    npm, node = shutil.which("npm"), shutil.which("node")
    assert npm is not None and node is not None
    env = {**os.environ, "WORKFLOWQL_PYTHON": sys.executable, "CHROMIUM_PATH": CHROMIUM}
    _install(npm, env)
    _run([npm, "run", "build"], timeout=300, env=env)
    started = time.monotonic()
    result = _run([node, "tests/e2e.mjs"], timeout=240, env=env)
    print(result.stdout)
    print(f"browser test took {time.monotonic() - started:.1f} s")
    assert "passed;" in result.stdout


def _installed_version(package: str) -> str | None:
    manifest = WEB / "node_modules" / package / "package.json"
    if not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8")).get("version"))


def _install(npm: str, env: dict[str, str]) -> None:
    """Install the pinned packages (package-lock.json) when any is missing or out of date.

    The exactly pinned development packages are compared with what node_modules holds, so a
    checkout whose package.json moved on (Apollo Client 4, relay-compiler 21) reinstalls.
    """
    pinned = json.loads((WEB / "package.json").read_text(encoding="utf-8"))["devDependencies"]
    exact = {name: version for name, version in pinned.items() if version[:1].isdigit()}
    if any(_installed_version(name) != version for name, version in exact.items()):
        _run([npm, "ci", "--no-audit", "--no-fund"], timeout=600, env=env)


def test_apollo_cache_is_updated_by_a_pushed_event() -> None:
    # Apollo Client's InMemoryCache, with documents validated against the committed SDL.
    if shutil.which("npm") is None or shutil.which("node") is None:
        message = str(missing_tools())
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    npm, node = shutil.which("npm"), shutil.which("node")
    assert npm is not None and node is not None
    env = dict(os.environ)
    _install(npm, env)
    result = _run([node, "tests/apollo-cache.mjs"], timeout=120, env=env)
    assert "apollo-cache: passed;" in result.stdout, result.stdout
    assert "node(id:) refetched 12 Node types" in result.stdout, result.stdout


def test_graphql_eslint_passes_on_the_committed_sdl() -> None:
    # The Relay rules and require-nullable-result-in-root (eslint.sdl.config.mjs says which
    # option is relaxed and why), on a copy of schema/schema.graphql.
    if shutil.which("npm") is None or shutil.which("node") is None:
        message = str(missing_tools())
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    npm, node = shutil.which("npm"), shutil.which("node")
    assert npm is not None and node is not None
    env = dict(os.environ)
    _install(npm, env)
    _run([node, "scripts/sync-schema.mjs"], timeout=120, env=env)
    result = _run(
        [
            node,
            "node_modules/eslint/bin/eslint.js",
            "-c",
            "eslint.sdl.config.mjs",
            "schema.graphql",
        ],
        timeout=120,
        env=env,
    )
    assert result.stdout.strip() == "", result.stdout


def test_relay_compiler_compiles_refetchable_fragments_and_the_events_connection() -> None:
    # frontend-examples/web/relay: @refetchable fragments on Node types and @connection on
    # WorkflowAttachment.events, compiled against schema/schema.graphql.
    if shutil.which("npm") is None or shutil.which("node") is None:
        message = str(missing_tools())
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    npm = shutil.which("npm")
    assert npm is not None
    env = dict(os.environ)
    _install(npm, env)
    relay = WEB / "relay"
    shutil.rmtree(relay / "__generated__", ignore_errors=True)
    (relay / "__generated__").mkdir()
    result = subprocess.run(
        [str(WEB / "node_modules" / ".bin" / "relay-compiler")],
        cwd=relay,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Compilation completed." in output, output
    refetch = (relay / "__generated__" / "StageRefetchQuery.graphql.ts").read_text()
    assert "node(id: $id)" in refetch
    paginated = (relay / "__generated__" / "attachmentHistory_attachment.graphql.ts").read_text()
    assert '"__AttachmentHistory_events_connection"' in paginated


def test_missing_browser_is_a_skip_with_the_install_command_outside_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(pytest.skip.Exception) as skipped:
        test_dashboard_builds_and_passes_the_browser_test()
    assert "sudo apt-get update && sudo apt-get install -y chromium" in str(skipped.value)


def test_missing_node_is_a_skip_outside_ci_and_a_failure_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        test_dashboard_builds_and_passes_the_browser_test()
    assert "sudo apt-get install -y nodejs npm" in str(skipped.value)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        test_dashboard_builds_and_passes_the_browser_test()
    assert "sudo apt-get install -y nodejs npm" in str(failed.value)
