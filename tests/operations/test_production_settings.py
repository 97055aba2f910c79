"""Production settings from the environment: secret key, proxy header, CORS origins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent.parent
PRINT_SETTINGS = (
    "import json, backend.settings as s; "
    "print(json.dumps({name: getattr(s, name, None) for name in "
    "('SECURE_PROXY_SSL_HEADER', 'CORS_ALLOWED_ORIGINS', 'GRAPHQL_WS_ALLOWED_ORIGINS', 'DEBUG')}))"
)


def load_settings(**environment: str) -> subprocess.CompletedProcess:
    """Import ``backend.settings`` in a fresh interpreter with exactly these variables set."""
    names = ("SECRET_KEY", "DEBUG", "WORKFLOWQL_ALLOW_INSECURE_KEY", "BEHIND_PROXY")
    env = {k: v for k, v in os.environ.items() if k not in names and not k.startswith("CORS")}
    env.update(environment)
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_insecure_key_escape_hatch_is_refused_without_debug():
    result = load_settings(WORKFLOWQL_ALLOW_INSECURE_KEY="1")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: SECRET_KEY must be set when DEBUG is off "
        "(WORKFLOWQL_ALLOW_INSECURE_KEY is refused without DEBUG)."
    )


def test_debug_runs_without_a_secret_key():
    result = load_settings(DEBUG="1")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["DEBUG"] is True


@pytest.mark.parametrize(
    ("environment", "header"),
    [
        ({}, None),
        ({"BEHIND_PROXY": "1"}, ["HTTP_X_FORWARDED_PROTO", "https"]),
    ],
    ids=["direct", "behind-proxy"],
)
def test_the_forwarded_proto_header_is_trusted_only_behind_a_proxy(environment, header):
    result = load_settings(SECRET_KEY="k" * 50, **environment)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["SECURE_PROXY_SSL_HEADER"] == header


def test_cors_origins_come_from_the_environment_and_websockets_use_the_same_list():
    result = load_settings(
        SECRET_KEY="k" * 50,
        CORS_ALLOWED_ORIGINS="https://app.example.com, https://admin.example.com",
    )

    loaded = json.loads(result.stdout)
    assert loaded["CORS_ALLOWED_ORIGINS"] == [
        "https://app.example.com",
        "https://admin.example.com",
    ]
    assert loaded["GRAPHQL_WS_ALLOWED_ORIGINS"] == loaded["CORS_ALLOWED_ORIGINS"]


def test_cors_origins_are_empty_by_default():
    result = load_settings(SECRET_KEY="k" * 50)

    assert json.loads(result.stdout)["CORS_ALLOWED_ORIGINS"] == []


def preflight(origin: str):
    return Client().options(
        "/graphql",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


@pytest.fixture
def allowed_origin(settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    return "https://app.example.com"


def test_a_preflight_from_an_allowed_origin_succeeds(allowed_origin):
    response = preflight(allowed_origin)

    assert response.status_code == 200
    assert response["access-control-allow-origin"] == "https://app.example.com"
    assert set(response["access-control-allow-methods"].split(", ")) >= {"POST", "GET"}
    assert "authorization" in response["access-control-allow-headers"].split(", ")


def test_a_preflight_from_another_origin_gets_no_cors_headers(allowed_origin):
    response = preflight("https://evil.example")

    assert [h for h in response.headers if h.lower().startswith("access-control-")] == []


@pytest.mark.django_db
def test_a_request_from_an_allowed_origin_is_answered_with_its_origin(allowed_origin):
    response = Client().post(
        "/graphql",
        data={"query": "{ __typename }"},
        content_type="application/json",
        HTTP_ORIGIN=allowed_origin,
    )

    assert response.json() == {"data": {"__typename": "Query"}}
    assert response["access-control-allow-origin"] == allowed_origin
