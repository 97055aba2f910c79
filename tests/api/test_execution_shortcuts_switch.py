"""The execution shortcuts check the library internals they rely on, and a setting turns them off."""

from __future__ import annotations

import logging
from importlib.metadata import version

import pytest

from schema.execution import fast_fields
from schema.schema import ExecutionContext, PlainExecutionContext, build_schema

QUERY = "{ __typename }"


@pytest.fixture(autouse=True)
def fresh_check():
    fast_fields._internals_match.cache_clear()
    yield
    fast_fields._internals_match.cache_clear()


def test_installed_versions_are_the_verified_ones() -> None:
    installed = {name: version(name) for name in fast_fields.VERIFIED_VERSIONS}

    assert installed == fast_fields.VERIFIED_VERSIONS
    assert fast_fields.internals_mismatches() == []


def test_shortcuts_are_on_by_default(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="schema.execution.fast_fields"):
        built = build_schema()

    assert built.execution_context_class is ExecutionContext
    assert caplog.records == []


def test_shortcuts_switch_off_with_one_warning_when_internals_differ(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    expected = dict(fast_fields.EXPECTED_EXECUTOR_SIGNATURES)
    expected["collect_subfields"] = ("self", "return_type", "field_nodes")  # an older name
    monkeypatch.setattr(fast_fields, "EXPECTED_EXECUTOR_SIGNATURES", expected)

    with caplog.at_level(logging.WARNING, logger="schema.execution.fast_fields"):
        first = build_schema()
        second = build_schema(introspection=True)

    assert first.execution_context_class is PlainExecutionContext
    assert second.execution_context_class is PlainExecutionContext
    assert [record.levelname for record in caplog.records] == ["WARNING"]
    message = caplog.records[0].getMessage()
    assert message.startswith("Execution shortcuts are off: the library internals they rely on")
    assert "executor.collect_subfields('self', 'return_type', 'field_details_list')" in message
    assert first.execute_sync(QUERY).data == {"__typename": "Query"}


def test_a_missing_attribute_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from graphql.execution.executor import Executor

    monkeypatch.delattr(Executor, "settle_in_background")

    assert fast_fields.internals_mismatches() == ["executor.settle_in_background is missing"]


def test_the_setting_turns_the_shortcuts_off(settings, caplog: pytest.LogCaptureFixture) -> None:
    settings.GRAPHQL_EXECUTION_SHORTCUTS = False

    with caplog.at_level(logging.WARNING, logger="schema.execution.fast_fields"):
        built = build_schema()

    assert built.execution_context_class is PlainExecutionContext
    assert caplog.records == []
    assert built.execute_sync(QUERY).data == {"__typename": "Query"}
