"""Clients read descriptions, so each says something its name and label do not.

Every enum value of the committed SDL has a description of its own (not empty, not its
name, not the engine's choice label); every page argument describes itself (strawberry gives
``last`` the words of ``after``).
"""

from __future__ import annotations

import re

import pytest
from graphql import GraphQLEnumType, GraphQLObjectType, build_schema

from schema.schema import introspection_schema

with open("schema/schema.graphql", encoding="utf-8") as _sdl:
    SDL = build_schema(_sdl.read())

ENUMS = [
    graphql_type
    for name, graphql_type in SDL.type_map.items()
    if isinstance(graphql_type, GraphQLEnumType) and not name.startswith("__")
]


def _words(text: str) -> str:
    """Lower-case letters and digits only: ``CHECK_IN`` and "Check in" are the same words."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _labels() -> dict[tuple[str, str], str]:
    """Return the engine's label of each enum value, by (GraphQL enum name, value name)."""
    labels = {}
    for enum in ENUMS:
        definition = introspection_schema().get_type_by_name(enum.name)
        for member in definition.wrapped_cls:
            labels[(enum.name, member.name)] = str(getattr(member, "label", member.value))
    return labels


def test_labels_are_read_from_the_engine():
    labels = _labels()

    assert labels[("ActionFailurePolicy", "CONTINUE")] == "Continue with the next action"
    assert labels[("WorkflowEventType", "STATUS_NOT_WRITTEN")] == "Object status not written"


def test_the_sdl_has_the_enums_this_test_walks():
    # A broken parse or an empty walk must not pass the test below.
    assert {"WorkflowEventType", "AvailableAction", "ErrorCode", "AttachmentStatus"} <= {
        enum.name for enum in ENUMS
    }
    assert sum(len(enum.values) for enum in ENUMS) >= 70


@pytest.mark.parametrize("enum", ENUMS, ids=lambda enum: enum.name)
def test_every_enum_value_has_a_description_of_its_own(enum):
    labels = _labels()
    copies = {}
    for name, value in enum.values.items():
        description = value.description or ""
        label = labels.get((enum.name, name), "")
        if not description.strip() or _words(description) in {_words(name), _words(label)}:
            copies[name] = description or None

    assert copies == {}, f"{enum.name}: values without a description of their own: {copies}"


def _page_arguments():
    for graphql_type in SDL.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        for field_name, field in graphql_type.fields.items():
            if {"first", "after", "last", "before"} <= set(field.args):
                yield f"{graphql_type.name}.{field_name}", field.args


PAGED_FIELDS = list(_page_arguments())


def test_the_paged_fields_include_every_root_connection():
    assert {name for name, _ in PAGED_FIELDS} >= {
        "Query.workflows",
        "Query.workflowAttachments",
        "Query.myPendingApprovals",
        "WorkflowAttachment.events",
    }


@pytest.mark.parametrize(("field", "arguments"), PAGED_FIELDS, ids=[f for f, _ in PAGED_FIELDS])
def test_each_page_argument_describes_itself(field, arguments):
    descriptions = {
        name: arguments[name].description for name in ("first", "after", "last", "before")
    }

    assert all(descriptions.values()), descriptions
    assert len(set(descriptions.values())) == 4, f"{field} repeats a description: {descriptions}"
    assert "before" in descriptions["last"], descriptions["last"]
    assert "after" in descriptions["first"], descriptions["first"]
