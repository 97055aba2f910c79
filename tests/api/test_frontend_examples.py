"""The dashboard example (frontend-examples/web) builds and passes its browser test.

Runs ``npm ci`` (when node_modules is missing), ``npm run build`` (which validates every
GraphQL document against schema/schema.graphql and type-checks the app) and
``node tests/e2e.mjs``: Debian's chromium, driven by playwright-core, against
``manage.py serve`` with the demo data. Needs Node.js 20.19+ with npm and /usr/bin/chromium
(``apt-get update && apt-get install -y chromium``); without them the test fails and says so.
"""

from __future__ import annotations

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


def test_dashboard_builds_and_passes_the_browser_test() -> None:
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.fail(
            "The dashboard example needs Node.js 20.19+ and npm on PATH "
            "(Debian: apt-get install -y nodejs npm, or Node.js from nodejs.org)."
        )
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"The browser test needs Debian's chromium at {CHROMIUM}: "
            "apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH)."
        )
    env = {**os.environ, "WORKFLOWQL_PYTHON": sys.executable, "CHROMIUM_PATH": CHROMIUM}
    if not (WEB / "node_modules").is_dir():
        _run([npm, "ci", "--no-audit", "--no-fund"], timeout=600, env=env)
    _run([npm, "run", "build"], timeout=300, env=env)
    started = time.monotonic()
    result = _run([node, "tests/e2e.mjs"], timeout=240, env=env)
    print(result.stdout)
    print(f"browser test took {time.monotonic() - started:.1f} s")
    assert "passed;" in result.stdout
