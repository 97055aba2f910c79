"""``schema.execution.response_encoding``: orjson's bytes mean what the standard encoder wrote."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from typing import Any

import pytest
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from backend.workflows.services import create_workflow
from schema.execution.response_encoding import encode_response, standard_encoding
from tests.support.helpers import api_token_for

VALUES: dict[str, Any] = {
    "non-ASCII": {"data": {"name": "مراجعة مالية", "emoji": "✓ 🚀", "quote": 'a"b\\c\n\t\u2028'}},
    "floats": {"data": [0.1, 1e-07, 1e300, -0.0, 2.5, 1 / 3, 123456789.123456789]},
    "64-bit integers": {"data": [2**63 - 1, -(2**63), 2**53 + 1, 0]},
    "integers beyond 64 bits": {"data": [2**64, -(2**70)]},
    "nested and empty": {"data": {"a": [], "b": {}, "c": None, "d": [True, False, [[None]]]}},
    "datetimes as values": {"data": datetime.datetime(2026, 12, 1, 12, 30, 1, 123456)},
    "dates, UUIDs, decimals": {
        "data": [datetime.date(2026, 12, 1), uuid.UUID(int=5), decimal.Decimal("1.10")]
    },
    "str subclass": {"data": mark_safe("<b>safe</b>")},
    "lazy translation": {"data": gettext_lazy("Workflows")},
    "tuples": {"data": (1, "two", (3,))},
}


@pytest.mark.parametrize("name", VALUES, ids=list(VALUES))
def test_the_same_json_values_as_the_standard_encoder(name):
    value = VALUES[name]
    assert json.loads(encode_response(value)) == json.loads(standard_encoding(value))


def test_plain_results_take_orjson_and_others_the_standard_encoder():
    assert isinstance(encode_response(VALUES["non-ASCII"]), bytes)
    assert isinstance(encode_response(VALUES["floats"]), bytes)
    assert encode_response(VALUES["integers beyond 64 bits"]) == standard_encoding(
        VALUES["integers beyond 64 bits"]
    )
    assert encode_response(VALUES["datetimes as values"]) == standard_encoding(
        VALUES["datetimes as values"]
    )


@pytest.mark.django_db
def test_a_response_with_arabic_names_is_utf8_json(client, acme):
    create_workflow(
        company=acme.company, name_en="Café ☕", name_ar="مراجعة", created_by=acme.company
    )
    response = client.post(
        "/graphql",
        data={"query": "{ workflows(first: 5) { edges { node { nameEn nameAr } } } }"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_token_for(acme.user('employee'))}",
    )
    assert response["Content-Type"] == "application/json"
    assert "مراجعة".encode() in response.content  # UTF-8, not escapes
    names = [
        e["node"]["nameEn"] for e in json.loads(response.content)["data"]["workflows"]["edges"]
    ]
    assert "Café ☕" in names
