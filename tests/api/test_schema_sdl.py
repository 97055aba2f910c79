"""The committed SDL matches the schema, and the schema documents itself for its clients."""

from __future__ import annotations

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
)

from schema import schema
from schema.export import REGENERATE_COMMAND, SDL_PATH, committed_sdl, current_sdl, sdl_diff

# Scalars documented by GraphQL itself or by Strawberry.
STANDARD_SCALARS = {"String", "ID", "Boolean", "Int", "Float", "DateTime", "JSON"}


def test_the_committed_sdl_matches_the_schema():
    committed, current = committed_sdl(), current_sdl()

    if committed != current:
        pytest.fail(
            f"{SDL_PATH.name} differs from the schema:\n{sdl_diff(committed, current)}\n"
            f"Regenerate it with `{REGENERATE_COMMAND}` (run from the project root) and commit it.",
            pytrace=False,
        )


def test_the_served_schema_prints_the_same_sdl_as_the_exported_one():
    # Introspection changes validation only, never the types the export prints.
    assert schema.as_str().rstrip("\n") + "\n" == current_sdl()


def _blank(text: str | None) -> bool:
    return not (text or "").strip()


def undocumented() -> list[str]:
    """Return every type, field, argument, input field and enum lacking a description.

    Enum values may go without one: their names say what they are.
    """
    missing: list[str] = []
    for name, graphql_type in sorted(schema._schema.type_map.items()):
        if name.startswith("__") or name in STANDARD_SCALARS:
            continue
        kind = type(graphql_type).__name__.removeprefix("GraphQL").removesuffix("Type").lower()
        if _blank(graphql_type.description):
            missing.append(f"{kind} {name}")
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in graphql_type.fields.items():
                if _blank(field.description):
                    missing.append(f"field {name}.{field_name}")
                for argument_name, argument in field.args.items():
                    if _blank(argument.description):
                        missing.append(f"argument {name}.{field_name}({argument_name})")
        elif isinstance(graphql_type, GraphQLInputObjectType):
            for field_name, field in graphql_type.fields.items():
                if _blank(field.description):
                    missing.append(f"input field {name}.{field_name}")
        else:
            assert isinstance(
                graphql_type, GraphQLEnumType | GraphQLScalarType | GraphQLUnionType
            ), graphql_type
    return missing


def test_every_type_field_argument_and_enum_has_a_description():
    missing = undocumented()

    assert missing == [], "Add a description= to:\n" + "\n".join(missing)


def test_the_description_check_sees_every_kind_of_schema_element():
    # Guard against a walk that silently skips what it should check.
    type_map = schema._schema.type_map
    types = [t for name, t in type_map.items() if not name.startswith("__")]
    for kind in (GraphQLObjectType, GraphQLInputObjectType, GraphQLEnumType, GraphQLScalarType):
        assert any(isinstance(t, kind) for t in types), kind
    assert "approveStage" in type_map["Mutation"].fields
    assert "input" in type_map["Mutation"].fields["approveStage"].args
