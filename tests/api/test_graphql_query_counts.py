"""Every nested list field of the schema costs a constant number of SQL queries.

Each test sends one GraphQL document through /graphql (``tests.support.helpers.graphql``, a bearer
token) over a small and a large data set and asserts that both cost exactly the same number
of queries, at most the ceiling written beside the test; on failure every statement of both
runs is printed. ``test_every_nested_list_field_has_a_constant_query_test`` fails when a list
field appears in the schema without one.

Counts include the fixed cost of any request, ``REQUEST_OVERHEAD``: the bearer token with its
user, and the user's company (``test_fixed_cost_of_a_request``). The first request with a new
token also records its use (one UPDATE), so ``warm_token`` spends it before counting. Every
document also runs once before it is counted, so that per-process caches (ContentType) are
filled as they would be in a running server. Counts are the same on SQLite and PostgreSQL.
The workflows test also counts hops to a worker thread (``sync_to_async``): resolvers that
hopped once per object, not queries, were what made large nested lists slow.

Large templates are built with ``create_workflow`` (a few distinct ones, with user, role and
form approvals naming different users, roles and forms) and copied with ``clone_workflow``
up to the wanted number, which keeps the module fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any
from unittest.mock import patch

import pytest
from asgiref.sync import SyncToAsync
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql import get_nullable_type, is_list_type, is_object_type

from backend.workflows.models import Workflow
from backend.workflows.services import (
    attach_workflow_to_object,
    clone_workflow,
    create_workflow,
    delegate_stage,
    delete_workflow,
    reject_stage,
    request_resubmission,
)
from tests.support.helpers import api_token_for, graphql, make_purchase_request
from tests.support.purchase_steps import approve_current_stage, current_approvers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_structure_cache(settings):
    """Count what building each answer costs: a cached ``workflows`` list would cost 2 queries
    (tests/api/test_structure_cache.py counts those)."""
    settings.GRAPHQL_STRUCTURE_CACHE = False


# The bearer token with its user and the user's company, in one query: see
# test_fixed_cost_of_a_request.
REQUEST_OVERHEAD = 1
DISTINCT_TEMPLATES = 5
# Worker-thread hops of the workflows query: the token (with the company), then the root
# resolver, its queryset's optimization and the page with everything prefetched, in one.
WORKFLOWS_THREAD_HOPS = 2

WORKFLOWS = """
query { workflows(first: 100) { edges { node {
  pipelines { department { name }
    stages { approvals { user { username } role { name } requiredForm { name } } } }
  summary { totalPipelines totalStages totalApprovals
    pipelineBreakdown { pipelineName stagesCount approvalsCount } }
  pipelinesCount totalStagesCount
} } } }
"""

WORKFLOW = """
query($id: ID!) { workflow(id: $id) {
  pipelines { nameEn stagesCount department { name }
    stages { nameEn approvalsCount approvals { user { username } role { name } requiredForm { name } } } }
  summary { totalStages pipelineBreakdown { pipelineName stagesCount approvalsCount } }
  pipelinesCount totalStagesCount
} }
"""

PIPELINE_STRUCTURE = """
query($id: ID!) { workflowPipelineStructure(id: $id) { totalStages
  pipelines { nameEn departmentName stagesCount stages { nameEn approvalsCount hasForms } } } }
"""

APPROVAL_SUMMARY = """
query($id: ID!) { workflowApprovalSummary(id: $id) { totalApprovals stagesWithForms
  pipelineBreakdown { pipelineName totalApprovals stages { stageName approvalsCount hasForms } } } }
"""

STATISTICS = """
query { workflowStatistics { overview { totalWorkflows }
  byCompany { company workflows pipelines stages approvals } } }
"""

ATTACHMENT_FIELDS = """
  currentStage { nameEn } currentPipeline { nameEn } workflow { nameEn }
  progress { percentage } nextStage { nameEn }
  currentApprovers { user { username } role { name } }
  availableActions dueAt isOverdue
  target { model objectId display }
  startedBy { username }
  events { totalCount nodes { type actor { username } fromStage { nameEn } }
    edges { cursor node { type } } pageInfo { hasNextPage endCursor } }
"""

ATTACHMENTS = (
    "query { workflowAttachments(first: 100) { edges { node {" + ATTACHMENT_FIELDS + "} } } }"
)

PENDING_APPROVALS = (
    "query { myPendingApprovals(first: 100) { edges { node {" + ATTACHMENT_FIELDS + "} } } }"
)

# What the documents above leave out: the running copy's structure, the current stage's
# approvals and each event's view of its attachment.
ATTACHMENT_DETAILS = """
query { workflowAttachments(first: 100) { edges { node {
  workflow { pipelinesCount summary { totalStages }
    pipelines { department { name } stages { approvals { user { username } role { name } } } } }
  currentStage { approvals { role { name } requiredForm { name } } }
  events { nodes { delegate { username } toStage { nameEn }
    attachment { status currentStage { nameEn } progress { percentage } }
    snapshot { status currentStageName progress { percentage } openActions } } }
} } } }
"""

# One attachment: its objects are not fetched through a list, so the optimizer sees less.
ATTACHMENT = """
query($id: ID!) { workflowAttachment(id: $id) {
  workflow { pipelinesCount totalStagesCount
    summary { totalStages pipelineBreakdown { stagesCount approvalsCount } }
    pipelines { stagesCount department { name }
      stages { approvals { user { username } role { name } requiredForm { name } } } } }
  currentStage { approvals { user { username } } }
  progress { percentage } nextStage { nameEn }
  currentApprovers { user { username } }
  events { totalCount nodes { type } }
} }
"""

ME = "query { me { user { username } company { name } roles { id name } } }"

CLEANUP_STATISTICS = "query { cleanupStatistics { totalAttachments byAge { days count } } }"


# --------------------------------------------------------------------------- helpers


@dataclass
class Measured:
    body: dict[str, Any]
    statements: list[str]
    thread_hops: int = 0


def warm_token(client: Any, user: Any) -> str:
    """Return a bearer token for ``user`` whose first use (it records last_used_at) is spent."""
    token = api_token_for(user)
    graphql(client, "{ __typename }", token=token)
    return token


def run_counted(
    client: Any, document: str, variables: dict[str, Any] | None = None, *, token: str
) -> Measured:
    """Send ``document``, capture its SQL and count its thread hops; fail on any GraphQL error."""
    hops = []
    hop = SyncToAsync.__call__

    def counted_hop(self: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(self.func)
        return hop(self, *args, **kwargs)

    with (
        CaptureQueriesContext(connection) as captured,
        patch.object(SyncToAsync, "__call__", counted_hop),
    ):
        body = graphql(client, document, variables, token=token)
    assert "errors" not in body, body
    return Measured(body, [query["sql"] for query in captured.captured_queries], len(hops))


def counted_after_warm_up(
    client: Any, document: str, variables: dict[str, Any] | None = None, *, token: str
) -> Measured:
    run_counted(client, document, variables, token=token)
    return run_counted(client, document, variables, token=token)


def _listing(label: str, measured: Measured) -> str:
    lines = "\n".join(f"  {number}. {sql}" for number, sql in enumerate(measured.statements, 1))
    return f"{label} ({len(measured.statements)} queries):\n{lines}"


def assert_constant_queries(
    few: Measured, many: Measured, *, ceiling: int, label: str = ""
) -> None:
    """Fail, printing both runs' SQL, unless both cost the same number of queries, at most ``ceiling``."""
    counts = len(few.statements), len(many.statements)
    if counts[0] != counts[1] or counts[1] > ceiling:
        raise AssertionError(
            f"{label or 'Query counts'}: expected the same number of queries, at most {ceiling}; "
            f"got {counts[0]} and {counts[1]}.\n"
            + _listing("small data", few)
            + "\n"
            + _listing("large data", many)
        )


def _approvals(scenario: Any, number: int) -> list[dict[str, Any]]:
    """Return a user approval and a role approval naming users, roles and forms that vary."""
    users = [scenario.user(name) for name in ("cfo", "employee", "requester", "finance_reviewer1")]
    roles = list(scenario.roles.values())
    forms = list(scenario.forms.values())
    return [
        {
            "approval_type": "user",
            "approval_user": users[number % len(users)].pk,
            "required_form": forms[number % len(forms)].pk,
        },
        {
            "approval_type": "role",
            "user_role": roles[number % len(roles)].pk,
            "role_selection_strategy": "anyone",
        },
    ]


def sized_template(scenario: Any, *, pipelines: int, stages: int, number: int = 0) -> Workflow:
    """Create a template of ``pipelines`` x ``stages``, every stage with two approvals."""
    departments = list(scenario.departments.values())
    return create_workflow(
        company=scenario.company,
        name_en=f"Sized {number}",
        created_by=scenario.company,
        pipelines=[
            {
                "name_en": f"Pipeline {p}",
                "department": departments[(number + p) % len(departments)],
                "stages": [
                    {"name_en": f"Stage {p}.{s}", "approvals": _approvals(scenario, number + p + s)}
                    for s in range(stages)
                ],
            }
            for p in range(pipelines)
        ],
    )


def sized_templates(scenario: Any, *, count: int, pipelines: int, stages: int) -> list[Workflow]:
    """Create ``count`` templates: a few distinct ones, then copies of them."""
    distinct = [
        sized_template(scenario, pipelines=pipelines, stages=stages, number=number)
        for number in range(min(count, DISTINCT_TEMPLATES))
    ]
    copies = [
        clone_workflow(workflow=distinct[n % len(distinct)]) for n in range(count - len(distinct))
    ]
    return distinct + copies


def attached_requests(scenario: Any, count: int, *, mixed: bool) -> list[tuple[Any, Any]]:
    """Attach the seed workflow to ``count`` purchase requests.

    Mixed: every fifth one is left at Initial Review, approved once, rejected, delegated, or
    sent back for resubmission after one approval; otherwise each is approved once (it then
    waits for the Budget Managers, who can all act on it).
    """
    attached = []
    for number in range(count):
        request = make_purchase_request(scenario, title=f"Request {number}")
        attachment = attach_workflow_to_object(
            obj=request, workflow=scenario.workflow, user=scenario.user("requester")
        )
        kind = number % 5 if mixed else 1
        if kind == 1:
            approve_current_stage(attachment, request)
        elif kind == 2:
            reject_stage(obj=request, user=current_approvers(attachment)[0], reason="No budget")
        elif kind == 3:
            holder = current_approvers(attachment)[0]
            other = next(
                scenario.user(name)
                for name in ("finance_reviewer1", "finance_reviewer2")
                if scenario.user(name).pk != holder.pk
            )
            delegate_stage(obj=request, user=holder, to_user=other, reason="Away")
        elif kind == 4:
            approve_current_stage(attachment, request)
            request_resubmission(
                obj=request,
                user=current_approvers(attachment)[0],
                stage=scenario.workflow.pipelines.first().stages.first().pk,
                reason="Add the quote",
            )
        attached.append((request, attachment))
    return attached


def _nodes(body: dict[str, Any], field: str) -> list[dict[str, Any]]:
    return [edge["node"] for edge in body["data"][field]["edges"]]


# --------------------------------------------------------------------------- tests


def test_fixed_cost_of_a_request(client, acme):
    # given
    token = api_token_for(acme.user("employee"))

    # when
    first = run_counted(client, "{ __typename }", token=token)
    later = run_counted(client, "{ __typename }", token=token)

    # then: the token with its user and company; the first use also records last_used_at
    assert len(first.statements) == REQUEST_OVERHEAD + 1, _listing("first", first)
    assert first.statements[1].startswith("UPDATE"), _listing("first", first)
    assert len(later.statements) == REQUEST_OVERHEAD, _listing("later", later)


def test_workflows_cost_the_same_queries_for_1x2x3_and_50x5x5(client, acme):
    # given: one template of 2 pipelines x 3 stages
    delete_workflow(workflow=acme.workflow)
    (small,) = sized_templates(acme, count=1, pipelines=2, stages=3)
    token = warm_token(client, acme.user("employee"))

    # when
    few = counted_after_warm_up(client, WORKFLOWS, token=token)
    delete_workflow(workflow=small)
    sized_templates(acme, count=50, pipelines=5, stages=5)
    many = run_counted(client, WORKFLOWS, token=token)

    # then: workflows, pipelines (departments joined in), stages, users, roles, forms
    assert_constant_queries(few, many, ceiling=REQUEST_OVERHEAD + 6)
    # and no field waits for a worker thread (a hop per object dominated large lists)
    assert (few.thread_hops, many.thread_hops) == (WORKFLOWS_THREAD_HOPS, WORKFLOWS_THREAD_HOPS)
    assert [n["totalStagesCount"] for n in _nodes(few.body, "workflows")] == [6]
    nodes = _nodes(many.body, "workflows")
    assert len(nodes) == 50
    assert {n["summary"]["totalApprovals"] for n in nodes} == {50}
    approvals = [a for p in nodes[0]["pipelines"] for s in p["stages"] for a in s["approvals"]]
    assert {a["user"]["username"] for a in approvals if a["user"]} == {
        "acme-cfo",
        "acme-employee",
        "acme-requester",
        "acme-finance_reviewer1",
    }
    assert {a["role"]["name"] for a in approvals if a["role"]} == {
        "Acme: Finance Reviewer",
        "Acme: Budget Manager",
        "Acme: Executive",
    }
    assert all(a["requiredForm"]["name"] for a in approvals if a["user"])
    assert {p["department"]["name"] for p in nodes[0]["pipelines"]} == {"Finance", "Management"}


@pytest.mark.parametrize(
    ("document", "ceiling", "total", "expected"),
    [
        # workflow, its pipelines (departments joined in), stages, users, roles, forms
        pytest.param(WORKFLOW, 6, ("workflow", "totalStagesCount"), (6, 100), id="workflow"),
        # workflow, pipelines, stages, departments
        pytest.param(
            PIPELINE_STRUCTURE,
            4,
            ("workflowPipelineStructure", "totalStages"),
            (6, 100),
            id="workflowPipelineStructure",
        ),
        # workflow, pipelines, stages
        pytest.param(
            APPROVAL_SUMMARY,
            3,
            ("workflowApprovalSummary", "totalApprovals"),
            (12, 200),
            id="workflowApprovalSummary",
        ),
    ],
)
def test_one_workflow_costs_the_same_queries_for_2x3_and_10x10(
    client, acme, document, ceiling, total, expected
):
    # given
    few_stages = sized_template(acme, pipelines=2, stages=3)
    many_stages = sized_template(acme, pipelines=10, stages=10, number=1)
    token = warm_token(client, acme.user("employee"))

    # when
    few = counted_after_warm_up(client, document, {"id": few_stages.pk}, token=token)
    many = run_counted(client, document, {"id": many_stages.pk}, token=token)

    # then
    assert_constant_queries(few, many, ceiling=REQUEST_OVERHEAD + ceiling)
    field, key = total
    assert (few.body["data"][field][key], many.body["data"][field][key]) == expected


def test_one_attachment_costs_the_same_queries_for_2x3_and_10x10_workflows(client, acme):
    # given: the same request document on attachments running a small and a large workflow
    token = warm_token(client, acme.user("employee"))
    attachments = [
        attach_workflow_to_object(
            obj=make_purchase_request(acme, title=f"Request {number}"),
            workflow=sized_template(acme, pipelines=pipelines, stages=stages, number=number),
            user=acme.user("requester"),
        )
        for number, (pipelines, stages) in enumerate([(2, 3), (10, 10)])
    ]

    # when
    few = counted_after_warm_up(client, ATTACHMENT, {"id": attachments[0].pk}, token=token)
    many = run_counted(client, ATTACHMENT, {"id": attachments[1].pk}, token=token)

    # then: the attachment (its workflow joined in); the pipelines (departments joined in) and
    # stages, with the roles, users and forms their approvals name; the current stage and the
    # users its approvals name; the stages again (progress, next stage); current approval
    # rows; events
    assert_constant_queries(few, many, ceiling=REQUEST_OVERHEAD + 11)
    workflows = [m.body["data"]["workflowAttachment"]["workflow"] for m in (few, many)]
    assert [w["totalStagesCount"] for w in workflows] == [6, 100]
    assert [w["summary"]["totalStages"] for w in workflows] == [6, 100]


def test_workflow_statistics_cost_the_same_queries_for_1_and_50_templates(client, acme):
    # given
    token = warm_token(client, acme.user("employee"))

    # when
    few = counted_after_warm_up(client, STATISTICS, token=token)
    sized_templates(acme, count=49, pipelines=2, stages=2)
    many = run_counted(client, STATISTICS, token=token)

    # then: one aggregate query
    assert_constant_queries(few, many, ceiling=REQUEST_OVERHEAD + 1)
    assert few.body["data"]["workflowStatistics"]["byCompany"][0]["workflows"] == 1
    assert many.body["data"]["workflowStatistics"]["byCompany"][0]["workflows"] == 50


def test_attachment_lists_cost_the_same_queries_for_1_and_75_attachments(client, acme):
    # given: one attachment waiting for the Budget Managers; a staff user for the statistics
    attached_requests(acme, 1, mixed=False)
    staff = acme.user("employee")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    employee, budget_manager = (
        warm_token(client, staff),
        warm_token(client, acme.user("budget_manager1")),
    )
    documents = {
        # attachments (workflow, pipeline joined in), current stages, the workflows' stages
        # (progress, next stage), current approval rows, targets, events, approvers' roles,
        # and once per request the viewer's workflow permissions (availableActions: who
        # holds change_workflowattachment may cancel)
        "workflowAttachments": (ATTACHMENTS, employee, 8),
        # attachments; the running copies' pipelines and stages, with the roles and users
        # their approvals name; current stages, with their roles and forms; events; the
        # events' attachments and their workflows' stages
        "workflowAttachments (details)": (ATTACHMENT_DETAILS, employee, 11),
        # as workflowAttachments
        "myPendingApprovals": (PENDING_APPROVALS, budget_manager, 8),
        # one aggregate query
        "cleanupStatistics": (CLEANUP_STATISTICS, employee, 1),
    }

    # when: 50 attachments wait for the Budget Managers and 25 more are in other states
    few = {
        name: counted_after_warm_up(client, doc, token=token)
        for name, (doc, token, _) in documents.items()
    }
    attached_requests(acme, 49, mixed=False)
    attached_requests(acme, 25, mixed=True)
    many = {
        name: run_counted(client, doc, token=token) for name, (doc, token, _) in documents.items()
    }

    # then
    for name, (_, _, ceiling) in documents.items():
        assert_constant_queries(
            few[name], many[name], ceiling=REQUEST_OVERHEAD + ceiling, label=name
        )
    nodes = _nodes(many["workflowAttachments"].body, "workflowAttachments")
    assert len(nodes) == 75
    assert {n["currentStage"]["nameEn"] for n in nodes if n["currentStage"]} == {
        "Initial Review",
        "Budget Approval",
    }
    assert {e["type"] for n in nodes for e in n["events"]["nodes"]} == {
        "ATTACHED",
        "STARTED",
        "APPROVED",
        "REJECTED",
        "DELEGATED",
        "RESUBMISSION_REQUESTED",
        "STAGE_MOVED",
    }
    details = _nodes(many["workflowAttachments (details)"].body, "workflowAttachments")
    assert {n["workflow"]["summary"]["totalStages"] for n in details} == {4}
    pending = _nodes(many["myPendingApprovals"].body, "myPendingApprovals")
    assert len(pending) == 55
    assert {n["currentStage"]["nameEn"] for n in pending} == {"Budget Approval"}
    assert all("APPROVE" in n["availableActions"] for n in pending)
    assert many["cleanupStatistics"].body["data"]["cleanupStatistics"]["totalAttachments"] == 75


def test_me_costs_the_same_queries_for_1_and_50_roles(client, acme):
    # given: a budget manager in one role
    user = acme.user("budget_manager1")
    token = warm_token(client, user)

    # when
    few = counted_after_warm_up(client, ME, token=token)
    user.groups.add(*[Group.objects.create(name=f"Acme: Extra {n}") for n in range(49)])
    many = run_counted(client, ME, token=token)

    # then: the company account, the roles
    assert_constant_queries(few, many, ceiling=REQUEST_OVERHEAD + 2)
    assert len(few.body["data"]["me"]["roles"]) == 1
    assert len(many.body["data"]["me"]["roles"]) == 50


# Every list field of the schema, and the test whose documents select it.
COVERED_LIST_FIELDS = {
    "WorkflowConnection.edges": "test_workflows_cost_the_same_queries_for_1x2x3_and_50x5x5",
    "Workflow.pipelines": "test_workflows_cost_the_same_queries_for_1x2x3_and_50x5x5",
    "Pipeline.stages": "test_workflows_cost_the_same_queries_for_1x2x3_and_50x5x5",
    "Stage.approvals": "test_workflows_cost_the_same_queries_for_1x2x3_and_50x5x5",
    "WorkflowSummary.pipelineBreakdown": "test_workflows_cost_the_same_queries_for_1x2x3_and_50x5x5",
    "WorkflowPipelineStructure.pipelines": "test_one_workflow_costs_the_same_queries_for_2x3_and_10x10",
    "PipelineStructure.stages": "test_one_workflow_costs_the_same_queries_for_2x3_and_10x10",
    "WorkflowApprovalSummary.pipelineBreakdown": "test_one_workflow_costs_the_same_queries_for_2x3_and_10x10",
    "PipelineApprovalBreakdown.stages": "test_one_workflow_costs_the_same_queries_for_2x3_and_10x10",
    "WorkflowStatistics.byCompany": "test_workflow_statistics_cost_the_same_queries_for_1_and_50_templates",
    "WorkflowAttachmentConnection.edges": "test_attachment_lists_cost_the_same_queries_for_1_and_75_attachments",
    "WorkflowAttachment.currentApprovers": "test_attachment_lists_cost_the_same_queries_for_1_and_75_attachments",
    "WorkflowAttachment.availableActions": "test_attachment_lists_cost_the_same_queries_for_1_and_75_attachments",
    "WorkflowEventConnection.nodes": "test_attachment_lists_cost_the_same_queries_for_1_and_75_attachments",
    "WorkflowEventConnection.edges": "test_attachment_lists_cost_the_same_queries_for_1_and_75_attachments",
    "AttachmentSnapshot.openActions": "test_attachment_lists_cost_the_same_queries_for_1_and_75_attachments",
    "Viewer.roles": "test_me_costs_the_same_queries_for_1_and_50_roles",
    "CleanupStatistics.byAge": "test_attachment_lists_cost_the_same_queries_for_1_and_75_attachments",
    "Query.workflowActions": (
        "tests.api.test_graphql_actions.test_workflow_actions_query_costs_the_same_for_one_or_many"
    ),
    "Query.nodes": "tests.api.test_graphql_nodes.test_nodes_cost_the_same_queries_for_1_and_20_workflows",
    "Query.colleagues": "tests.api.test_lookups.test_lookups_cost_the_same_queries_for_few_and_many_rows",
    "Query.roles": "tests.api.test_lookups.test_lookups_cost_the_same_queries_for_few_and_many_rows",
    "Query.forms": "tests.api.test_lookups.test_lookups_cost_the_same_queries_for_few_and_many_rows",
    "Query.departments": "tests.api.test_lookups.test_lookups_cost_the_same_queries_for_few_and_many_rows",
    "Query.workflowModels": (
        "tests.api.test_lookups.test_workflow_models_cost_the_same_queries_for_one_and_three_models"
    ),
    "ApproveStagesPayload.results": (
        "tests.api.test_graphql_bulk_decisions.test_each_item_costs_the_same_queries"
    ),
    "RejectStagesPayload.results": (
        "tests.api.test_graphql_bulk_decisions.test_each_item_costs_the_same_queries"
    ),
    "PurchaseRequestConnection.edges": (
        "tests.api.test_host_types.test_purchase_requests_cost_the_same_queries_for_1_and_40"
    ),
    "Query.availableWorkflows": (
        "tests.api.test_seed_compatibility_graphql."
        "test_available_workflows_costs_the_same_queries_for_1_and_30_templates"
    ),
}


def test_every_nested_list_field_has_a_constant_query_test():
    from schema import schema

    list_fields = {
        f"{type_name}.{field_name}"
        for type_name, graphql_type in schema._schema.type_map.items()
        if is_object_type(graphql_type) and not type_name.startswith("__")
        for field_name, field in graphql_type.fields.items()
        if is_list_type(get_nullable_type(field.type))
    }

    for test in COVERED_LIST_FIELDS.values():
        module, _, name = test.rpartition(".")
        assert callable(getattr(import_module(module or __name__), name, None)), test
    assert list_fields == set(COVERED_LIST_FIELDS), (
        "Add a constant-query test for each new list field and list it in COVERED_LIST_FIELDS: "
        f"missing {sorted(list_fields - set(COVERED_LIST_FIELDS))}, "
        f"stale {sorted(set(COVERED_LIST_FIELDS) - list_fields)}"
    )
