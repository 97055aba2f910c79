"""`manage.py serve` for real, on a fresh database: what its console shows, and how fast."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.core.mail import get_connection, send_mail

ROOT = Path(__file__).resolve().parents[2]
APPROVE = """mutation Approve($id: ID!) {
  approveStage(input: {attachmentId: $id, formData: {allocated_budget: "15000"}}) {
    error { code }
  }
}"""
INBOX = "{ myPendingApprovals(first: 1) { edges { node { id } } } }"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _post(url: str, query: str, token: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_serve_console_is_quiet_and_the_api_answers_first(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "EMAIL_BACKEND")},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "DEBUG": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)  # as the README runs it
    started = time.monotonic()
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-W", "default", "manage.py", "serve", "--port", str(port)]
            + ["--no-build-examples"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while time.monotonic() - started < 90:
            assert server.poll() is None, log.read_text()
            if "Uvicorn running" in log.read_text() and _get(f"{base}/") == 200:
                break
            time.sleep(0.2)
        answered_after = time.monotonic() - started
        token = json.loads(log.read_text().split("Headers pane")[1].splitlines()[1])[
            "Authorization"
        ].removeprefix("Bearer ")

        inbox = _post(f"{base}/graphql", INBOX, token)["data"]["myPendingApprovals"]["edges"]
        approved = _post(f"{base}/graphql", APPROVE, token, {"id": inbox[0]["node"]["id"]})
        assert approved == {"data": {"approveStage": {"error": None}}}
        assert _get(f"{base}/static/admin/css/base.css") == 200
        assert _get(f"{base}/static/graphiql/graphiql.min.js") == 200
        assert _get(f"{base}/static/admin/missing.css") == 404
        time.sleep(0.5)
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=30)

    text = log.read_text()
    print(f"serve answered after {answered_after:.1f} s on a fresh database\n{text}")
    assert answered_after < 60
    assert "Demo data ready" in text and "32 notification e-mails" in text
    assert "Content-Type:" not in text and "MIME-Version" not in text
    assert "E-mail to requester@acme.example: Approved: " in text
    assert "lifespan" not in text
    assert "StreamingHttpResponse" not in text
    assert "Traceback" not in text
    assert text.count("missing.css") == 1
    assert len(text.splitlines()) < 40


def test_demo_emails_are_one_line_each(capsys) -> None:
    connection = get_connection("backend.demo.mail.OneLineEmailBackend")

    sent = send_mail(
        "Approved: Office chairs",
        "A long body\nwith lines",
        "workflows@localhost",
        ["requester@acme.example", "cfo@acme.example"],
        connection=connection,
        html_message="<p>A long body</p>",
    )

    assert sent == 1
    assert capsys.readouterr().out == (
        "E-mail to requester@acme.example, cfo@acme.example: Approved: Office chairs\n"
    )


def test_a_404_is_logged_once_by_the_access_log_only() -> None:
    django_logger = logging.getLogger("django")

    assert not logging.getLogger("django.request").isEnabledFor(logging.WARNING)
    assert logging.getLogger("django.request").isEnabledFor(logging.ERROR)  # 5xx stay
    assert django_logger.propagate is False
    # One console handler (pytest adds capturing handlers of its own, not StreamHandlers).
    consoles = [h for h in django_logger.handlers if type(h) is logging.StreamHandler]
    assert len(consoles) == 1
