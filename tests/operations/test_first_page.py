"""What a new user meets first: the landing page, GraphiQL without internet, static files."""

from __future__ import annotations

import asyncio
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from backend.urls import urlpatterns as project_urlpatterns
from schema.execution.views import GraphQLView
from schema.schema import schema_for_settings

ROOT = Path(__file__).resolve().parents[2]

# The project's URLs, with GraphiQL on whatever DEBUG says (the tests run with DEBUG off).
urlpatterns = [
    path(
        "graphql",
        csrf_exempt(GraphQLView.as_view(schema=schema_for_settings(), graphql_ide="graphiql")),
    ),
    *project_urlpatterns,
]


def body(response: Any) -> bytes:
    """Read a streamed response the way Django's ASGI handler does: asynchronously."""
    assert response.is_async  # so the ASGI handler does not warn about sync iterators

    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return asyncio.run(read())


def _references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', html)


@pytest.mark.urls(__name__)
def test_graphiql_page_loads_everything_from_this_server(client) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"})

    html = page.content.decode()
    assert page.status_code == 200
    references = _references(html)
    assert references == [
        "data:,",
        "/static/graphiql/graphiql.min.css",
        "/static/graphiql/style.css",
        "/static/graphiql/react.production.min.js",
        "/static/graphiql/react-dom.production.min.js",
        "/static/graphiql/graphiql.min.js",
        "/static/graphiql/graphql-ws.min.js",
        "/static/graphiql/graphiql-plugin-explorer.umd.js",
    ]
    assert re.findall(r"https?://", html) == []  # no host other than this one
    assert "csrftoken" in page.cookies  # cookie sessions can send it back


@pytest.mark.urls(__name__)
def test_graphiql_assets_are_served_by_the_app(client) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"}).content.decode()

    for reference in _references(page)[1:]:
        response = client.get(reference)
        content = body(response)
        assert response.status_code == 200, reference
        assert len(content) > 500, reference
        assert b"https://unpkg.com" not in content and b"cdn.jsdelivr" not in content


def test_graphiql_assets_come_from_a_pinned_package() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "graphene-django-graphiql-static==0.8" in dependencies
    assert "whitenoise>=6.7,<7" in dependencies


def test_admin_static_files_are_served(client) -> None:
    response = client.get("/static/admin/css/base.css")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b"body" in body(response)


def test_a_missing_static_file_is_a_404(client) -> None:
    assert client.get("/static/admin/css/missing.css").status_code == 404


def test_landing_page_links_graphiql_the_dashboard_and_the_admin(client, settings) -> None:
    settings.GRAPHQL_IDE = True

    page = client.get("/")

    html = page.content.decode()
    assert page.status_code == 200
    assert [ref for ref in _references(html) if ref != "data:,"] == [
        "/graphql",
        "/examples/",
        "/admin/",
    ]
    assert "Demo users" not in html


@pytest.mark.django_db
def test_landing_page_lists_the_demo_users_in_demo_mode_only(client, settings) -> None:
    call_command("seed_demo", stdout=None)
    settings.DEBUG = False
    settings.WORKFLOWQL_DEMO = False
    assert "Demo users" not in client.get("/").content.decode()

    settings.DEBUG = True
    html = client.get("/").content.decode()

    assert "Demo users" in html
    for username in ("acme-admin", "acme-requester", "acme-budget_manager1", "acme-cfo", "admin"):
        assert f"<code>{username}" in html
    assert "<code>demo</code>" in html


@pytest.mark.django_db
def test_landing_page_has_no_demo_users_without_demo_data(client, settings) -> None:
    settings.DEBUG = True

    assert "Demo users" not in client.get("/").content.decode()


def test_graphiql_example_query_is_valid() -> None:
    from graphql import parse, validate

    from schema.execution.graphiql import DEFAULT_QUERY
    from schema.schema import introspection_schema

    assert validate(introspection_schema()._schema, parse(DEFAULT_QUERY)) == []
