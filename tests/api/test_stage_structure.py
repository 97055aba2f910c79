"""The structure and counts of a workflow say what is true of it, never a constant.

``StageStructure.isActive`` is false for a stage the attachment running the copy skipped (its
condition was false); ``ApprovalTypeCounts`` has one count per approval type that exists.
"""

from __future__ import annotations

import pytest

from backend.workflows.constants import ApprovalType
from tests.support.helpers import assert_max_queries, global_id, graphql
from tests.support.purchase_steps import approve_current_stage, start_purchase_request

pytestmark = pytest.mark.django_db

STRUCTURE = """
query($id: ID!) { workflowPipelineStructure(id: $id) { pipelines { stages { nameEn isActive } } } }
"""


def _active(client, scenario, workflow_id):
    body = graphql(
        client, STRUCTURE, {"id": global_id("Workflow", workflow_id)}, user=scenario.company
    )
    assert "errors" not in body, body
    return {
        stage["nameEn"]: stage["isActive"]
        for pipeline in body["data"]["workflowPipelineStructure"]["pipelines"]
        for stage in pipeline["stages"]
    }


def test_a_stage_the_running_copy_skipped_is_inactive(client, acme):
    # given: below 10,000 the Executive Approval stage is skipped when it would open
    request, attachment = start_purchase_request(
        acme, at_stage="Final Finance Sign-off", amount="2500.00"
    )
    approve_current_stage(attachment, request)

    # when
    copy = _active(client, acme, attachment.workflow_id)
    template = _active(client, acme, acme.workflow.pk)

    # then
    assert copy == {
        "Initial Review": True,
        "Budget Approval": True,
        "Final Finance Sign-off": True,
        "Executive Approval": False,
    }
    assert set(template.values()) == {True}


def test_stages_ahead_of_a_running_copy_stay_active(client, acme):
    _, attachment = start_purchase_request(acme, amount="2500.00")

    assert set(_active(client, acme, attachment.workflow_id).values()) == {True}


def test_a_running_copys_structure_costs_one_query_more_than_a_templates(client, acme):
    _, attachment = start_purchase_request(acme, amount="2500.00")
    _active(client, acme, acme.workflow.pk)  # warm the content types

    with assert_max_queries(20) as template:
        _active(client, acme, acme.workflow.pk)
    with assert_max_queries(len(template.captured_queries) + 1) as copy:
        _active(client, acme, attachment.workflow_id)

    assert len(copy.captured_queries) == len(template.captured_queries) + 1


def test_approval_type_counts_are_the_approval_types():
    from schema import schema

    counts = schema._schema.type_map["ApprovalTypeCounts"]

    assert set(counts.fields) == {value.lower() for value in ApprovalType.names}
