"""``@oneOf`` inputs: an action's scope and a new pipeline's stages take exactly one alternative.

GraphQL refuses none or several alternatives before any resolver runs, so the error is a
request error (no payload) and nothing changes.
"""

from __future__ import annotations

import pytest

from backend.workflows.models import Pipeline, Stage, WorkflowAction
from backend.workflows.selectors import ordered_stages
from tests.support.action_handlers import ALLOWED
from tests.support.database_state import database_state
from tests.support.helpers import global_id, graphql

pytestmark = pytest.mark.django_db

SDL = """
input ActionScopeInput @oneOf {
  \"\"\"The workflow's global id: the action runs for events anywhere in it.\"\"\"
  workflowId: ID

  \"\"\"The pipeline's global id: the action runs for events of its stages.\"\"\"
  pipelineId: ID

  \"\"\"The stage's global id: the action runs for events of that stage only.\"\"\"
  stageId: ID
}
"""
CREATE_ACTION = """
mutation($input: CreateWorkflowActionInput!) {
  createWorkflowAction(input: $input) { action { scopeLevel } error { code message field } }
}
"""
ADD_PIPELINE = """
mutation($input: AddPipelineInput!) {
  addPipeline(input: $input) {
    pipeline { nameEn stages { nameEn } } error { code message field }
  }
}
"""
INLINE_SCOPES = """
mutation { createWorkflowAction(input: {scope: {workflowId: "%s", stageId: "%s"},
  actionType: AFTER_APPROVE, functionPath: "%s.record"}) { error { code } } }
"""
ONE_KEY = "OneOf Input Object '{name}' must specify exactly one key."


@pytest.fixture(autouse=True)
def _allow_test_handlers(settings):
    settings.WORKFLOW_ACTION_ALLOWED_MODULES = [ALLOWED]


def action_input(scope):
    return {
        "input": {
            "scope": scope,
            "actionType": "AFTER_APPROVE",
            "functionPath": f"{ALLOWED}.record",
        }
    }


def test_the_sdl_marks_both_inputs_one_of():
    with open("schema/schema.graphql", encoding="utf-8") as sdl:
        text = sdl.read()

    assert SDL.strip() in text
    assert "input PipelineStagesInput @oneOf {" in text
    assert "directive @oneOf on INPUT_OBJECT" in text


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param({}, id="none"),
        pytest.param({"workflowId": "W", "stageId": "S"}, id="workflow-and-stage"),
        pytest.param({"pipelineId": "P", "stageId": "S"}, id="pipeline-and-stage"),
        pytest.param({"workflowId": None}, id="a-null-alternative"),
    ],
)
def test_an_action_scope_of_none_or_several_levels_is_refused(client, acme, scope):
    # given: real ids where the test names a level
    stage = ordered_stages(acme.workflow.pk)[0]
    real = {
        "W": global_id("Workflow", acme.workflow.pk),
        "P": global_id("Pipeline", stage.pipeline_id),
        "S": global_id("Stage", stage.pk),
    }
    scope = {key: real.get(value, value) for key, value in scope.items()}
    before = database_state()

    # when
    body = graphql(client, CREATE_ACTION, action_input(scope), user=acme.company)

    # then
    assert body["data"] is None
    [error] = body["errors"]
    expected = (
        "Value for member field 'workflowId' must be non-null"
        if scope == {"workflowId": None}
        else ONE_KEY.format(name="ActionScopeInput")
    )
    assert error["message"] == expected
    assert database_state() == before
    assert WorkflowAction.objects.count() == 0


def test_an_inline_action_scope_of_two_levels_is_refused(client, acme):
    stage = ordered_stages(acme.workflow.pk)[0]
    before = database_state()

    body = graphql(
        client,
        INLINE_SCOPES
        % (global_id("Workflow", acme.workflow.pk), global_id("Stage", stage.pk), ALLOWED),
        user=acme.company,
    )

    assert body["data"] is None
    assert [error["message"] for error in body["errors"]] == [
        ONE_KEY.format(name="ActionScopeInput")
    ]
    assert database_state() == before


@pytest.mark.parametrize(
    ("scope", "level"),
    [("workflowId", "WORKFLOW"), ("pipelineId", "PIPELINE"), ("stageId", "STAGE")],
)
def test_an_action_scope_of_one_level_creates_the_action_there(client, acme, scope, level):
    stage = ordered_stages(acme.workflow.pk)[0]
    ids = {
        "workflowId": global_id("Workflow", acme.workflow.pk),
        "pipelineId": global_id("Pipeline", stage.pipeline_id),
        "stageId": global_id("Stage", stage.pk),
    }

    body = graphql(client, CREATE_ACTION, action_input({scope: ids[scope]}), user=acme.company)

    assert body["data"]["createWorkflowAction"] == {"action": {"scopeLevel": level}, "error": None}
    assert WorkflowAction.objects.count() == 1


@pytest.mark.parametrize(
    "stages",
    [
        pytest.param({}, id="none"),
        pytest.param({"blank": 2, "list": [{"nameEn": "Review"}]}, id="both"),
        pytest.param({"blank": None}, id="a-null-alternative"),
    ],
)
def test_pipeline_stages_of_none_or_both_alternatives_are_refused(client, acme, stages):
    before = database_state()
    pipelines = Pipeline.objects.count()

    body = graphql(
        client,
        ADD_PIPELINE,
        {
            "input": {
                "workflowId": global_id("Workflow", acme.workflow.pk),
                "nameEn": "Extra",
                "stages": stages,
            }
        },
        user=acme.company,
    )

    assert body["data"] is None
    [error] = body["errors"]
    expected = (
        "Value for member field 'blank' must be non-null"
        if stages == {"blank": None}
        else ONE_KEY.format(name="PipelineStagesInput")
    )
    assert error["message"] == expected
    assert database_state() == before
    assert Pipeline.objects.count() == pipelines


@pytest.mark.parametrize(
    ("stages", "names"),
    [
        pytest.param({"blank": 2}, ["Stage 1", "Stage 2"], id="blank"),
        pytest.param({"list": [{"nameEn": "Review"}]}, ["Review"], id="list"),
        pytest.param(None, [], id="no-stages"),
    ],
)
def test_pipeline_stages_of_one_alternative_build_them(client, acme, stages, names):
    stage_count = Stage.objects.count()

    body = graphql(
        client,
        ADD_PIPELINE,
        {
            "input": {
                "workflowId": global_id("Workflow", acme.workflow.pk),
                "nameEn": "Extra",
                "stages": stages,
            }
        },
        user=acme.company,
    )

    assert body["data"]["addPipeline"] == {
        "pipeline": {"nameEn": "Extra", "stages": [{"nameEn": name} for name in names]},
        "error": None,
    }
    assert Stage.objects.count() == stage_count + len(names)
