"""`manage.py serve`: demo data only with DEBUG or --demo, a tour token, a background build."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from backend.accounts.models import ApiToken
from backend.demo.access import TOUR_USERNAME
from backend.demo.management.commands import serve
from backend.demo.models import PurchaseRequest
from backend.workflows.models import CompanyMembership, Workflow

ME = "{ me { user { username } company { name } } }"
HEADER_LINE = re.compile(r'^  (\{"Authorization": "Bearer wfql_[\w-]+"\})$', re.M)


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record uvicorn.run instead of serving; keep serve's environment changes to this test."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(serve.uvicorn, "run", lambda app, **options: calls.append(options))
    for name in ("WORKFLOWQL_DEMO", "EMAIL_BACKEND"):
        monkeypatch.setenv(name, "")  # recorded, so the test's end restores the real value
        monkeypatch.delenv(name)
    return calls


def run_serve(*args: str) -> str:
    out = io.StringIO()
    call_command("serve", "--no-build-examples", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_serve_with_debug_off_creates_no_users_and_no_data(settings, uvicorn_calls) -> None:
    settings.DEBUG = False

    output = run_serve()

    assert get_user_model().objects.count() == 0
    assert Workflow.objects.count() == 0
    assert ApiToken.objects.count() == 0
    assert "python manage.py createsuperuser" in output
    assert "WorkflowQL on http://127.0.0.1:8000/  (GraphQL http://127.0.0.1:8000/graphql," in output
    assert "Bearer" not in output
    assert len(uvicorn_calls) == 1 and uvicorn_calls[0]["lifespan"] == "off"


@pytest.mark.django_db
def test_serve_with_debug_on_but_no_demo_creates_nothing(settings, uvicorn_calls) -> None:
    settings.DEBUG = True

    run_serve("--no-demo")

    assert get_user_model().objects.count() == 0


@pytest.mark.django_db
def test_serve_demo_flag_seeds_with_debug_off(settings, uvicorn_calls) -> None:
    settings.DEBUG = False

    output = run_serve("--demo")

    assert (
        Workflow.objects.filter(company__username__in=["acme", "globex"], is_hidden=False).count()
        == 2
    )
    assert HEADER_LINE.search(output)
    assert settings.WORKFLOWQL_DEMO is True
    assert os.environ["WORKFLOWQL_DEMO"] == "1"


@pytest.mark.django_db
def test_every_start_prints_a_working_token_and_the_header_line(
    settings, uvicorn_calls, client
) -> None:
    settings.DEBUG = True

    # given a first start, which seeds the demo
    first = run_serve()
    requests = PurchaseRequest.objects.count()
    first_header = json.loads(HEADER_LINE.search(first).group(1))
    # when it starts again
    second = run_serve()

    # then nothing is seeded twice, and the new token works while the old one is gone
    assert "Demo data ready" in first and "Demo data ready" not in second
    assert PurchaseRequest.objects.count() == requests == 12
    second_header = json.loads(HEADER_LINE.search(second).group(1))
    assert second_header != first_header
    answer = client.post(
        "/graphql",
        {"query": ME},
        content_type="application/json",
        headers=second_header,
    )
    assert answer.json() == {
        "data": {"me": {"user": {"username": TOUR_USERNAME}, "company": {"name": "Acme Corp"}}}
    }
    refused = client.post(
        "/graphql", {"query": ME}, content_type="application/json", headers=first_header
    )
    assert refused.status_code == 401
    assert ApiToken.objects.filter(user__username=TOUR_USERNAME).count() == 1


@pytest.mark.django_db
def test_demo_company_admin_is_staff_acting_for_the_company(settings, uvicorn_calls) -> None:
    settings.DEBUG = True
    run_serve()

    for slug in ("acme", "globex"):
        staff = get_user_model().objects.get(username=f"{slug}-admin")
        assert staff.is_staff and not staff.is_superuser
        assert CompanyMembership.objects.get(user=staff).company.username == slug
        assert staff.check_password("demo")
        assert sorted(staff.get_all_permissions()) == [
            "demo.view_department",
            "demo.view_purchaserequest",
            "workflows.view_dynamicform",
            "workflows.view_pipeline",
            "workflows.view_stage",
            "workflows.view_workflow",
            "workflows.view_workflowattachment",
            "workflows.view_workflowevent",
        ]


@pytest.mark.django_db
def test_company_admin_sees_its_company_in_the_admin_and_in_graphql(
    settings, uvicorn_calls, client
) -> None:
    settings.DEBUG = True
    run_serve()
    client.login(username="acme-admin", password="demo")

    page = client.get("/admin/workflows/workflow/")
    requests = client.get("/admin/demo/purchaserequest/")
    answer = client.post(
        "/graphql",
        {"query": "{ workflows { totalCount edges { node { nameEn } } } }"},
        content_type="application/json",
    )

    assert page.status_code == 200
    acme_workflows = Workflow.objects.filter(company__username="acme").count()
    assert acme_workflows > 1  # the template and the copies its running requests use
    assert page.context["cl"].result_count == acme_workflows
    assert {w.company.username for w in page.context["cl"].result_list} == {"acme"}
    assert requests.context["cl"].result_count == 6
    assert {r.requester.username for r in requests.context["cl"].result_list} == {"acme-requester"}
    assert client.get("/admin/workflows/workflowaction/").status_code == 403
    assert client.get("/admin/auth/user/").status_code == 403
    assert answer.status_code == 200, answer.content
    assert answer.json()["data"]["workflows"]["totalCount"] == 1


def _fake_npm(directory: Path, *, seconds: float) -> str:
    """An ``npm`` that takes ``seconds`` and then writes dist/index.html (for ``run build``)."""
    script = directory / "npm"
    script.write_text(
        "#!/bin/sh\n"
        f"sleep {seconds}\n"
        'if [ "$1" = run ]; then mkdir -p dist && echo built > dist/index.html; fi\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_the_dashboard_builds_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = tmp_path / "web"
    (web / "src").mkdir(parents=True)
    (web / "node_modules").mkdir()
    (web / "src" / "main.ts").write_text("export {}")
    npm = _fake_npm(tmp_path, seconds=3)
    monkeypatch.setattr(serve, "EXAMPLE_DIR", web)
    monkeypatch.setattr(serve.shutil, "which", lambda name: npm if name == "npm" else None)
    out = io.StringIO()
    command = serve.Command(stdout=out)

    started = time.monotonic()
    build = command.start_examples_build("http://127.0.0.1:8000")
    returned_after = time.monotonic() - started

    assert build is not None
    assert returned_after < 2.0  # the server starts while npm runs (3 s)
    assert not (web / "dist" / "index.html").exists()
    build.join(timeout=30)
    assert (web / "dist" / "index.html").read_text() == "built\n"
    assert "Dashboard example built in" in out.getvalue()
    assert command.start_examples_build("http://127.0.0.1:8000") is None  # up to date now


def test_a_source_newer_than_the_build_makes_it_stale(tmp_path: Path) -> None:
    web = tmp_path / "web"
    (web / "src").mkdir(parents=True)
    (web / "dist").mkdir()
    source = web / "src" / "main.ts"
    source.write_text("export {}")
    index = web / "dist" / "index.html"
    index.write_text("<div id=app></div>")
    now = time.time()
    os.utime(source, (now - 100, now - 100))
    os.utime(index, (now - 50, now - 50))
    assert not serve.examples_need_build(web)

    os.utime(source, (now, now))

    assert serve.examples_need_build(web)
