"""Bounded inputs: sizes, JSON depth, colours, NUL characters and malformed ids.

Every refusal is a typed error naming the input field (never INTERNAL_ERROR) and changes
nothing in the database.
"""

from __future__ import annotations

import pytest

from backend.workflows.exceptions import WorkflowValidationError
from backend.workflows.input_limits import json_depth, parse_id
from backend.workflows.models import Stage
from backend.workflows.services import attach_workflow_to_object
from tests.support.database_state import database_state
from tests.support.helpers import graphql, make_purchase_request
from tests.support.purchase_steps import current_approvers, start_purchase_request

pytestmark = pytest.mark.django_db

ERROR = "error { code message field }"
ATTACH = f"""
mutation($input: AttachWorkflowInput!) {{ attachWorkflow(input: $input) {{ attachment {{ id }} {ERROR} }} }}
"""
APPROVE = f"""
mutation($input: ApproveStageInput!) {{ approveStage(input: $input) {{ attachment {{ id }} {ERROR} }} }}
"""
REJECT = f"""
mutation($input: RejectStageInput!) {{ rejectStage(input: $input) {{ attachment {{ id }} {ERROR} }} }}
"""
DELEGATE = f"""
mutation($input: DelegateStageInput!) {{ delegateStage(input: $input) {{ attachment {{ id }} {ERROR} }} }}
"""
CREATE_WORKFLOW = f"""
mutation($input: CreateWorkflowInput!) {{ createWorkflow(input: $input) {{ workflow {{ id }} {ERROR} }} }}
"""
ADD_STAGE = f"""
mutation($input: AddStageInput!) {{ addStage(input: $input) {{ stage {{ id databaseId }} {ERROR} }} }}
"""
ADD_PIPELINE = f"""
mutation($input: AddPipelineInput!) {{ addPipeline(input: $input) {{ pipeline {{ id }} {ERROR} }} }}
"""
UPDATE_PIPELINE = f"""
mutation($input: UpdatePipelineInput!) {{ updatePipeline(input: $input) {{ pipeline {{ id }} {ERROR} }} }}
"""
REORDER = f"""
mutation($input: ReorderStagesInput!) {{ reorderStages(input: $input) {{ pipeline {{ id }} {ERROR} }} }}
"""


def nested(depth: int) -> dict:
    """A JSON object ``depth`` levels deep."""
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def payload_error(body: dict, mutation: str) -> dict:
    assert "errors" not in body, body
    return body["data"][mutation]["error"]


@pytest.fixture
def running(acme):
    """A purchase request at its first stage and the user who may decide on it."""
    request, attachment = start_purchase_request(acme)
    return attachment, current_approvers(attachment)[0]


# ----------------------------------------------------------------------------- JSON


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"blob": "x" * (64 * 1024)}, "metadata is larger than 65536 bytes of JSON."),
        (nested(21), "metadata is nested more than 20 levels deep."),
        ({"text": "a\x00b"}, None),
    ],
    ids=["65-kb", "depth-21", "nul"],
)
def test_attach_refuses_metadata_beyond_the_limits(client, acme, metadata, message):
    # given
    request = make_purchase_request(acme)
    before = database_state()
    variables = {
        "input": {
            "model": "demo.purchaserequest",
            "objectId": str(request.pk),
            "workflowId": str(acme.workflow.pk),
            "metadata": metadata,
        }
    }

    # when
    body = graphql(client, ATTACH, variables, user=acme.user("requester"))

    # then
    if message is None:  # a NUL is refused for every input, before the mutation runs
        assert body == {
            "data": None,
            "errors": [
                {
                    "message": "Text may not contain NUL characters.",
                    "extensions": {"code": "VALIDATION_ERROR", "field": "input.metadata.text"},
                }
            ],
        }
    else:
        assert payload_error(body, "attachWorkflow") == {
            "code": "VALIDATION_ERROR",
            "message": message,
            "field": "metadata",
        }
    assert database_state() == before


def test_metadata_at_the_limits_is_stored(client, acme):
    request = make_purchase_request(acme)
    metadata = {"deep": nested(19), "blob": "x" * 60_000}
    variables = {
        "input": {
            "model": "demo.purchaserequest",
            "objectId": str(request.pk),
            "workflowId": str(acme.workflow.pk),
            "metadata": metadata,
        }
    }

    body = graphql(client, ATTACH, variables, user=acme.user("requester"))

    assert body["data"]["attachWorkflow"]["error"] is None


def test_the_json_limits_are_settings(acme, settings):
    settings.WORKFLOW_MAX_JSON_BYTES = 100
    settings.WORKFLOW_MAX_JSON_DEPTH = 3

    with pytest.raises(WorkflowValidationError) as deep:
        attach_workflow_to_object(
            obj=make_purchase_request(acme),
            workflow=acme.workflow,
            user=acme.user("requester"),
            metadata=nested(4),
        )
    with pytest.raises(WorkflowValidationError) as large:
        attach_workflow_to_object(
            obj=make_purchase_request(acme),
            workflow=acme.workflow,
            user=acme.user("requester"),
            metadata={"blob": "x" * 100},
        )

    assert (deep.value.message, deep.value.field) == (
        "metadata is nested more than 3 levels deep.",
        "metadata",
    )
    assert (large.value.message, large.value.field) == (
        "metadata is larger than 100 bytes of JSON.",
        "metadata",
    )


def test_approve_refuses_form_data_nested_too_deep(client, running):
    attachment, approver = running
    before = database_state()
    form_data = {"budget_code": "BDG-1", "notes": nested(20)}

    body = graphql(
        client,
        APPROVE,
        {"input": {"attachmentId": str(attachment.pk), "formData": form_data}},
        user=approver,
    )

    assert payload_error(body, "approveStage") == {
        "code": "VALIDATION_ERROR",
        "message": "formData is nested more than 20 levels deep.",
        "field": "formData",
    }
    assert database_state() == before


def test_json_depth_is_counted_without_recursion():
    deep = nested(100_000)

    assert json_depth(deep, stop_after=20) == 21
    assert json_depth({"a": [1, {"b": 2}]}) == 3
    assert json_depth("text") == 0


# ----------------------------------------------------------------------------- text


def test_reject_refuses_a_reason_with_a_nul_character(client, running):
    attachment, approver = running
    before = database_state()

    body = graphql(
        client,
        REJECT,
        {"input": {"attachmentId": str(attachment.pk), "reason": "no\x00"}},
        user=approver,
    )

    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Text may not contain NUL characters.",
                "extensions": {"code": "VALIDATION_ERROR", "field": "input.reason"},
            }
        ],
    }
    assert database_state() == before


def test_a_nul_character_in_a_literal_is_refused_with_its_path(client, acme):
    body = graphql(
        client,
        'query { workflows(filter: {nameContains: "a\\u0000"}) { totalCount } }',
        user=acme.user("employee"),
    )

    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Text may not contain NUL characters.",
                "extensions": {"code": "VALIDATION_ERROR", "field": "filter.nameContains"},
            }
        ],
    }


@pytest.mark.parametrize(
    ("workflow", "message", "field"),
    [
        (
            {"nameEn": "Long", "description": "d" * (64 * 1024 + 1)},
            "description is longer than 65536 characters.",
            "description",
        ),
        (
            {"nameEn": "Long", "nameAr": "ع" * 201},
            "name_ar is longer than 200 characters.",
            "name_ar",
        ),
        ({"nameEn": "Long", "slug": "s" * 101}, "slug is longer than 100 characters.", "slug"),
        (
            {"nameEn": "P", "pipelines": [{"nameEn": "P", "nameAr": "ع" * 201}]},
            "pipelines[0].name_ar is longer than 200 characters.",
            "pipelines[0].name_ar",
        ),
        (
            {
                "nameEn": "P",
                "pipelines": [
                    {
                        "nameEn": "P",
                        "stages": {"list": [{"nameEn": "S", "color": "url(//evil.example/x)"}]},
                    }
                ],
            },
            "pipelines[0].stages[0].color must be a colour written #rrggbb, e.g. #3498db.",
            "pipelines[0].stages[0].color",
        ),
        (
            {"nameEn": "P", "pipelines": [{"nameEn": "P", "departmentId": "not-a-number"}]},
            "Department not-a-number does not exist.",
            "pipelines[0].department_id",
        ),
    ],
    ids=["description", "name-ar", "slug", "pipeline-name-ar", "stage-color", "department-id"],
)
def test_create_workflow_refuses_input_its_columns_cannot_hold(
    client, acme, workflow, message, field
):
    before = database_state()

    body = graphql(client, CREATE_WORKFLOW, {"input": workflow}, user=acme.company)

    assert payload_error(body, "createWorkflow") == {
        "code": "VALIDATION_ERROR",
        "message": message,
        "field": field,
    }
    assert database_state() == before


@pytest.mark.parametrize(
    "color", ["red", "#fff", "#12345g", "url(https://evil.example/pixel)", "#3498db;"]
)
def test_add_stage_refuses_anything_but_a_hex_colour(client, acme, color):
    pipeline = acme.workflow.pipelines.first()
    before = database_state()

    body = graphql(
        client,
        ADD_STAGE,
        {"input": {"pipelineId": str(pipeline.pk), "nameEn": "S", "color": color}},
        user=acme.company,
    )

    assert payload_error(body, "addStage") == {
        "code": "VALIDATION_ERROR",
        "message": "color must be a colour written #rrggbb, e.g. #3498db.",
        "field": "color",
    }
    assert database_state() == before


def test_add_stage_stores_a_hex_colour(client, acme):
    pipeline = acme.workflow.pipelines.first()

    body = graphql(
        client,
        ADD_STAGE,
        {"input": {"pipelineId": str(pipeline.pk), "nameEn": "S", "color": "#A1b2C3"}},
        user=acme.company,
    )

    stage = Stage.objects.get(pk=body["data"]["addStage"]["stage"]["databaseId"])
    assert stage.color == "#A1b2C3"


def test_update_pipeline_refuses_a_negative_order(client, acme):
    pipeline = acme.workflow.pipelines.first()
    before = database_state()

    body = graphql(
        client, UPDATE_PIPELINE, {"input": {"id": str(pipeline.pk), "order": -1}}, user=acme.company
    )

    assert payload_error(body, "updatePipeline") == {
        "code": "VALIDATION_ERROR",
        "message": "order must be a whole number from 0 to 2147483647.",
        "field": "order",
    }
    assert database_state() == before


# ----------------------------------------------------------------------------- ids


@pytest.mark.parametrize("bad_id", ["abc", "1.5", "", "9" * 40, "١٢"], ids=str)
def test_a_malformed_attachment_id_is_not_found(client, acme, bad_id):
    before = database_state()

    body = graphql(
        client, APPROVE, {"input": {"attachmentId": bad_id}}, user=acme.user("requester")
    )

    assert payload_error(body, "approveStage") == {
        "code": "NOT_FOUND",
        "message": "Workflow attachment not found.",
        "field": "attachmentId",
    }
    assert database_state() == before


def test_a_malformed_object_id_is_not_found(client, acme):
    body = graphql(
        client,
        ATTACH,
        {
            "input": {
                "model": "demo.purchaserequest",
                "objectId": "abc",
                "workflowId": str(acme.workflow.pk),
            }
        },
        user=acme.user("requester"),
    )

    assert payload_error(body, "attachWorkflow") == {
        "code": "NOT_FOUND",
        "message": "Object not found.",
        "field": "objectId",
    }


def test_a_malformed_stage_id_in_reorder_is_not_found(client, acme):
    pipeline = acme.workflow.pipelines.first()
    before = database_state()

    body = graphql(
        client,
        REORDER,
        {"input": {"pipelineId": str(pipeline.pk), "stageIds": ["abc"]}},
        user=acme.company,
    )

    assert payload_error(body, "reorderStages") == {
        "code": "NOT_FOUND",
        "message": "Stage not found.",
        "field": "stageIds",
    }
    assert database_state() == before


def test_a_malformed_delegate_is_not_found(client, running):
    attachment, approver = running

    body = graphql(
        client,
        DELEGATE,
        {"input": {"attachmentId": str(attachment.pk), "toUserId": "x1"}},
        user=approver,
    )

    assert payload_error(body, "delegateStage") == {
        "code": "NOT_FOUND",
        "message": "User not found.",
        "field": "toUserId",
    }


@pytest.mark.parametrize(
    ("value", "expected"), [(7, 7), ("12", 12), (" 3 ", 3), ("-4", -4)], ids=str
)
def test_parse_id_reads_whole_numbers(value, expected):
    assert parse_id(value, "id") == expected


def test_add_pipeline_refuses_a_malformed_department_id(client, acme):
    before = database_state()

    body = graphql(
        client,
        ADD_PIPELINE,
        {"input": {"workflowId": str(acme.workflow.pk), "nameEn": "P", "departmentId": "x"}},
        user=acme.company,
    )

    assert payload_error(body, "addPipeline") == {
        "code": "VALIDATION_ERROR",
        "message": "Department x does not exist.",
        "field": "pipelines[0].department_id",
    }
    assert database_state() == before


def test_a_documents_literals_are_checked_once_per_parsed_document():
    from graphql import parse

    from schema.execution import input_guard

    clean = parse('{ workflowAttachmentFor(model: "demo.x", objectId: "1") { id } }')
    dirty = parse('{ workflowAttachmentFor(model: "demo\\u0000x", objectId: "1") { id } }')
    walks = []
    original = input_guard.visit

    def counted(*args, **kwargs):
        walks.append(args[0])
        return original(*args, **kwargs)

    input_guard.visit = counted
    try:
        answers = [input_guard.nul_input_path(doc, None) for doc in (clean, dirty, clean, dirty)]
        with_variables = input_guard.nul_input_path(clean, {"name": "a\x00b"})
    finally:
        input_guard.visit = original

    assert answers == [None, "model", None, "model"]
    assert walks == [clean, dirty]
    assert with_variables == "name"
