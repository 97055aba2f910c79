"""The front page and the docs/ pages are checked, so what they show cannot rot.

- Python blocks run: the ``# runnable example`` blocks of the pages in ``CHAINED_PAGES`` in
  order, in one namespace (each page continues the one before); every other Python block
  (settings snippets) runs on its own.
- GraphQL blocks validate against the served schema.
- Shell blocks: the quick start's test command is the one CI runs; the operations page's
  commands run against a scratch database; the tour runs against a live server; the
  production page's commands run as a deployment rehearsal (scratch database, throwaway
  Redis, uvicorn with DEBUG off). Unlabelled blocks (the nginx configuration) are not run.
- JavaScript blocks parse; relative links point to files that exist.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from backend.serving import UVICORN_ARGS
from tests.support.live_servers import database_url_of, free_port, redis_server, uvicorn_servers

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
CHAINED_PAGES = [
    "python-api.md",
    "actions-and-email.md",
    "operations.md",
    "deadlines-and-reassignment.md",
]


def _blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(), flags=re.S)


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.django_db
def test_runnable_python_examples_run_in_order():
    namespace: dict = {}
    ran = 0
    for page in CHAINED_PAGES:
        path = DOCS / page
        for block in _blocks(path, "python"):
            if block.startswith("# runnable example"):
                exec(compile(block, _name(path), "exec"), namespace)  # noqa: S102
                ran += 1
    assert ran >= 5
    assert namespace["request"].workflow_status == "approved"


@pytest.mark.parametrize("path", PAGES, ids=_name)
def test_other_python_blocks_run_on_their_own(path):
    for block in _blocks(path, "python"):
        if path.name in CHAINED_PAGES and block.startswith("# runnable example"):
            continue
        assert not block.startswith("# runnable example"), (
            f"{_name(path)} has a runnable example but is not in CHAINED_PAGES"
        )
        exec(compile(block, _name(path), "exec"), {})  # noqa: S102


def test_ci_runs_exactly_the_readme_test_command():
    quick_start = _blocks(ROOT / "README.md", "bash")[:2]
    serve_command, test_command = (block.strip() for block in quick_start)
    assert serve_command.endswith("manage.py serve")
    assert test_command.endswith("pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.count(test_command) == 2  # once on SQLite, once on PostgreSQL + Redis


@pytest.mark.parametrize("path", PAGES, ids=_name)
def test_graphql_blocks_are_valid_documents(path):
    """Every ```graphql block parses and validates against the served schema."""
    from graphql import parse, validate

    from schema.schema import introspection_schema

    for block in _blocks(path, "graphql"):
        errors = validate(introspection_schema()._schema, parse(block))
        assert not errors, f"{_name(path)}: {errors}\n{block}"


def test_graphql_blocks_exist_where_expected():
    assert len(_blocks(ROOT / "README.md", "graphql")) == 2
    assert len(_blocks(DOCS / "graphql-api.md", "graphql")) >= 2


@pytest.mark.parametrize("path", PAGES, ids=_name)
def test_relative_links_point_to_files(path):
    text = path.read_text()
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        assert (path.parent / target).exists(), f"{_name(path)} links to missing {target}"


def test_javascript_blocks_parse(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed to check the docs' JavaScript (see the README).")
    blocks = [block for page in PAGES for block in _blocks(page, "js")]
    assert blocks
    for number, block in enumerate(blocks):
        script = tmp_path / f"block{number}.mjs"
        script.write_text(block)
        result = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def _run_shell(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _python_in_venv() -> None:
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.fail("The docs' commands use .venv/bin/python: create it as the README says.")


def test_operations_commands_run_as_written():
    _python_in_venv()
    (block,) = _blocks(DOCS / "operations.md", "bash")
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{scratch}/docs.sqlite3"}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        migrate = _run_shell("DEBUG=1 .venv/bin/python manage.py migrate -v 0", env)
        assert migrate.returncode == 0, migrate.stderr
        result = _run_shell(block, env)
    assert result.returncode == 0, result.stderr
    assert "=== Workflow Cleanup Statistics ===" in result.stdout


def _post(url: str, token: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


@pytest.mark.django_db(transaction=True)
def test_the_tour_works_against_a_live_server():
    """Steps 1, 2 and 4 of the front page's tour, as written, against a served demo."""
    _python_in_venv()
    call_command("seed_demo", verbosity=0)
    readme = ROOT / "README.md"
    token_block, curl_block = _blocks(readme, "bash")[2:4]
    inbox, approve = _blocks(readme, "graphql")
    env = {**os.environ, "DATABASE_URL": database_url_of(connection.settings_dict)}
    env.pop("DJANGO_SETTINGS_MODULE", None)

    with uvicorn_servers(1, database_url=env["DATABASE_URL"], redis_url=None, timeout=60) as (
        server,
    ):
        address = f"127.0.0.1:{server.port}"
        script = f'{token_block}\n{curl_block}\necho\necho "$TOKEN"'
        result = _run_shell(script.replace("127.0.0.1:8000", address), env)
        assert result.returncode == 0, result.stderr
        curl_output, token = result.stdout.strip().rsplit("\n", 1)
        answer = json.loads(curl_output)
        assert "errors" not in answer, answer
        edges = answer["data"]["myPendingApprovals"]["edges"]
        assert [edge["node"]["target"]["display"] for edge in edges] == [
            "Purchase Request: Developer laptops - $12500.00"
        ]
        assert edges[0]["node"]["currentStage"]["nameEn"] == "Budget Approval"

        nested = _post(server.http_url, token, inbox)
        assert "errors" not in nested, nested
        node = nested["data"]["myPendingApprovals"]["edges"][0]["node"]
        assert node["id"] == edges[0]["node"]["id"]

        step = {"id": node["id"], "stage": node["currentStage"]["id"]}
        first = _post(server.http_url, token, approve, step)
        assert first["data"]["approveStage"] == {
            "attachment": {
                "status": "IN_PROGRESS",
                "currentStage": {"nameEn": "Final Finance Sign-off"},
                "progress": {"percentage": 50},
            },
            "error": None,
        }
        again = _post(server.http_url, token, approve, step)
        assert again["data"]["approveStage"]["error"]["code"] == "CONFLICT"
        assert again["data"]["approveStage"]["attachment"] is None


def test_no_machine_paths_in_docs():
    home = str(Path.home())
    for page in PAGES:
        text = page.read_text()
        assert str(ROOT) not in text and f"{home}/" not in text, _name(page)


def test_front_page_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


def _get(url: str, host: str, headers: dict[str, str] | None = None, body: bytes | None = None):
    request = urllib.request.Request(url, data=body, headers={"Host": host, **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status, response.read()


def test_the_production_server_command_uses_the_measured_uvicorn_options():
    """docs/production.md serves with the options ``manage.py serve``, the tests and the
    benchmarks use (``backend.serving``): the fan-out figures hold only with them."""
    deploy = _blocks(DOCS / "production.md", "bash")[0]
    (server_line,) = [line for line in deploy.splitlines() if line.startswith("uvicorn ")]
    assert " ".join(UVICORN_ARGS) in server_line


def test_production_commands_run_as_written(tmp_path):
    """The production page's commands, in order, as a deployment rehearsal on this machine.

    Only what names another machine changes: the database becomes a scratch SQLite file, Redis
    a throwaway redis-server, and uvicorn listens on 127.0.0.1 on a free port. The commands
    run with the project's virtualenv first on PATH, as in an activated virtualenv.
    """
    _python_in_venv()
    page = DOCS / "production.md"
    deploy, install, first_users = _blocks(page, "bash")[:3]
    port = free_port()
    with redis_server(0) as redis_url:
        deploy_script = (
            deploy.replace("postgres://workflows@db:5432/workflows", f"sqlite:///{tmp_path}/p.db")
            .replace("redis://redis:6379/0", redis_url)
            .replace("--host 0.0.0.0 --port 8000", f"--host 127.0.0.1 --port {port}")
        )
        lines = deploy_script.strip().splitlines()
        exports = "\n".join(line for line in lines if line.startswith("export "))
        *setup, server_line = [line for line in lines if not line.startswith("export ")]
        assert server_line.startswith("uvicorn ")
        env = {
            **os.environ,
            "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "STATIC_ROOT": str(tmp_path / "static"),
            "DJANGO_SUPERUSER_PASSWORD": "a-long-rehearsal-password",
        }
        for name in ("DJANGO_SETTINGS_MODULE", "DEBUG", "DATABASE_URL", "REDIS_URL"):
            env.pop(name, None)

        prepared = _run_shell(exports + "\n" + "\n".join(setup), env)
        assert prepared.returncode == 0, prepared.stderr
        assert (tmp_path / "static" / "admin" / "css" / "base.css").exists()
        dry_run = _run_shell(install.strip() + " --dry-run --quiet", env)
        assert dry_run.returncode == 0, dry_run.stderr
        users = _run_shell(f"{exports}\n{first_users}", env)
        assert users.returncode == 0, users.stderr
        token = users.stdout.strip().splitlines()[-1]

        server = subprocess.Popen(
            ["bash", "-c", f"{exports}\nexec {server_line}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            host = "workflows.example.com"
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    status, _ = _get(f"{url}/static/admin/css/base.css", host)
                    break
                except OSError:
                    assert server.poll() is None, server.stderr.read() if server.stderr else ""
                    assert time.monotonic() < deadline, "uvicorn did not answer"
                    time.sleep(0.2)
            assert status == 200
            status, body = _get(
                f"{url}/graphql",
                host,
                {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                json.dumps({"query": "{ me { user { username } } }"}).encode(),
            )
            assert (status, json.loads(body)) == (
                200,
                {"data": {"me": {"user": {"username": "ops"}}}},
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
