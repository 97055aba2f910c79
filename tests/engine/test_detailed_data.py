"""get_detailed_workflow_data and friends: the seed's exact dicts, no run copies, constant queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.workflows.models import Pipeline, Stage, Workflow
from backend.workflows.services import (
    attach_workflow_to_object,
    create_workflow,
    get_detailed_workflow_data,
    get_workflow_approval_summary,
    get_workflow_pipeline_structure,
    get_workflow_statistics,
    update_workflow,
)
from tests.support.helpers import assert_max_queries, make_purchase_request
from tests.support.workflow_builders import role_approval, user_approval

pytestmark = pytest.mark.django_db

ACME_STATISTICS = {
    "overview": {
        "total_workflows": 1,
        "active_workflows": 1,
        "inactive_workflows": 0,
        "total_pipelines": 2,
        "total_stages": 4,
        "total_approvals": 4,
        "avg_pipelines_per_workflow": 2.0,
        "avg_stages_per_workflow": 4.0,
    },
    "by_company": {"acme": {"workflows": 1, "pipelines": 2, "stages": 4, "approvals": 4}},
}
ZERO_TYPES = {"role": 0, "user": 0, "self-approved": 0, "assigned": 0}


def stages_of(workflow: Workflow) -> list[Stage]:
    return list(
        Stage.objects.filter(pipeline__workflow=workflow).order_by("pipeline__order", "order")
    )


def pipelines_of(workflow: Workflow) -> list[Pipeline]:
    return list(workflow.pipelines.order_by("order"))


def attach_to_new_requests(scenario: Any, count: int) -> list[Workflow]:
    """Attach the scenario's workflow to ``count`` purchase requests; return the run copies."""
    copies = []
    for number in range(count):
        request = make_purchase_request(scenario, title=f"Request {number}")
        attachment = attach_workflow_to_object(
            obj=request, workflow=scenario.workflow, user=scenario.user("requester")
        )
        copies.append(attachment.workflow)
    return copies


def bulk_workflows(
    company: Any, count: int, *, pipelines: int, stages: int, department: Any = None
) -> list[Workflow]:
    """Create ``count`` templates of ``pipelines`` x ``stages`` stages with one anyone approval each."""
    from django.contrib.contenttypes.models import ContentType

    workflows = Workflow.objects.bulk_create(
        [Workflow(company=company, name_en=f"Bulk {number}") for number in range(count)]
    )
    department_fields = (
        {
            "department_content_type": ContentType.objects.get_for_model(department),
            "department_id": str(department.pk),
        }
        if department is not None
        else {}
    )
    created = Pipeline.objects.bulk_create(
        [
            Pipeline(workflow=workflow, name_en=f"P{order}", order=order, **department_fields)
            for workflow in workflows
            for order in range(1, pipelines + 1)
        ]
    )
    Stage.objects.bulk_create(
        [
            Stage(
                pipeline=pipeline,
                name_en=f"S{order}",
                order=order,
                # Written directly, so the role id is never checked.
                approvals=[
                    {"approval_type": "role", "user_role": 1, "role_selection_strategy": "anyone"}
                ],
            )
            for pipeline in created
            for order in range(1, stages + 1)
        ]
    )
    return workflows


# ----------------------------------------------------------------------------- one workflow


def test_detailed_workflow_data_of_the_purchase_workflow(acme):
    # given
    workflow = Workflow.objects.get(pk=acme.workflow.pk)
    finance, executive = pipelines_of(workflow)
    initial, budget, final, board = stages_of(workflow)
    forms = acme.forms
    roles = acme.roles

    def stage(
        obj: Stage, approval: dict[str, Any], type_display: str, strategy_display: str
    ) -> dict:
        return {
            "id": obj.pk,
            "name_en": obj.name_en,
            "name_ar": obj.name_ar,
            "order": obj.order,
            "is_active": True,
            "stage_info": {"color": obj.color, "approvals": [approval]},
            "approvals_count": 1,
            "has_approvals": True,
            "approval_configuration": {
                "approvals": [
                    {
                        **approval,
                        "approval_type_display": type_display,
                        "strategy_display": strategy_display,
                    }
                ],
                "color": obj.color,
                "total_approvals": 1,
            },
            "created_at": obj.created_at,
            "modified_at": obj.modified_at,
        }

    def pipeline(obj: Pipeline, department: str, stages: list[dict]) -> dict:
        return {
            "id": obj.pk,
            "name_en": obj.name_en,
            "name_ar": obj.name_ar,
            "order": obj.order,
            "department": department,
            "department_name": department,
            "stages": stages,
            "stages_count": len(stages),
            "created_at": obj.created_at,
            "modified_at": obj.modified_at,
        }

    # when
    with assert_max_queries(4):
        data = get_detailed_workflow_data(workflow_id=workflow.pk, company_id=acme.company.pk)

    # then
    assert data == {
        "id": workflow.pk,
        "name_en": "Purchase Request Approval",
        "name_ar": "موافقة طلب الشراء",
        "company": "acme",
        "company_name": "Acme",
        "is_active": True,
        "description": "Finance review followed by executive approval.",
        "pipelines": [
            pipeline(
                finance,
                "Finance",
                [
                    stage(
                        initial,
                        {
                            "approval_type": "role",
                            "behaviour": "approve",
                            "user_role": roles["Finance Reviewer"].pk,
                            "role_selection_strategy": "round_robin",
                            "required_form": forms["Initial Review Form"].pk,
                        },
                        "Role-based Approval",
                        "Rotate approval among role users",
                    ),
                    stage(
                        budget,
                        {
                            "approval_type": "role",
                            "behaviour": "approve",
                            "user_role": roles["Budget Manager"].pk,
                            "role_selection_strategy": "anyone",
                            "required_form": forms["Budget Approval Form"].pk,
                        },
                        "Role-based Approval",
                        "Any user with role can approve",
                    ),
                    stage(
                        final,
                        {
                            "approval_type": "user",
                            "behaviour": "approve",
                            "approval_user": acme.user("cfo").pk,
                            "required_form": forms["Final Approval Form"].pk,
                        },
                        "User-specific Approval",
                        "",
                    ),
                ],
            ),
            pipeline(
                executive,
                "Management",
                [
                    stage(
                        board,
                        {
                            "approval_type": "role",
                            "behaviour": "approve",
                            "user_role": roles["Executive"].pk,
                            "role_selection_strategy": "consensus",
                        },
                        "Role-based Approval",
                        "All users with role must approve",
                    )
                ],
            ),
        ],
        "pipelines_count": 2,
        "total_stages_count": 4,
        "workflow_summary": {
            "total_pipelines": 2,
            "total_stages": 4,
            "total_approvals": 4,
            "pipeline_breakdown": [
                {
                    "pipeline_name": "Finance Review",
                    "pipeline_order": 1,
                    "stages_count": 3,
                    "approvals_count": 3,
                },
                {
                    "pipeline_name": "Executive Approval",
                    "pipeline_order": 2,
                    "stages_count": 1,
                    "approvals_count": 1,
                },
            ],
        },
        "created_at": workflow.created_at,
        "modified_at": workflow.modified_at,
    }


def test_pipeline_structure_of_the_purchase_workflow(acme):
    # given
    workflow = acme.workflow
    finance, executive = pipelines_of(workflow)
    initial, budget, final, board = stages_of(workflow)

    def stage(obj: Stage, **types: int) -> dict:
        return {
            "id": obj.pk,
            "name_en": obj.name_en,
            "name_ar": obj.name_ar,
            "order": obj.order,
            "is_active": True,
            "approvals_count": 1,
            "approval_types": {**ZERO_TYPES, **types},
            "color": obj.color,
            "has_forms": obj is not board,
        }

    # when
    with assert_max_queries(4):
        data = get_workflow_pipeline_structure(workflow.pk, company_id=acme.company.pk)

    # then
    assert data == {
        "workflow_id": workflow.pk,
        "workflow_name": "Purchase Request Approval",
        "pipelines": [
            {
                "id": finance.pk,
                "name_en": "Finance Review",
                "name_ar": "مراجعة مالية",
                "order": 1,
                "department": "Finance",
                "stages": [stage(initial, role=1), stage(budget, role=1), stage(final, user=1)],
                "stages_count": 3,
            },
            {
                "id": executive.pk,
                "name_en": "Executive Approval",
                "name_ar": "موافقة تنفيذية",
                "order": 2,
                "department": "Management",
                "stages": [stage(board, role=1)],
                "stages_count": 1,
            },
        ],
        "total_pipelines": 2,
        "total_stages": 4,
    }
    assert [s["color"] for p in data["pipelines"] for s in p["stages"]] == [
        "#3498db",
        "#f39c12",
        "#27ae60",
        "#8e44ad",
    ]


def test_approval_summary_of_the_purchase_workflow(acme):
    with assert_max_queries(3):
        data = get_workflow_approval_summary(acme.workflow.pk, company_id=acme.company.pk)

    assert data == {
        "total_approvals": 4,
        "by_type": {"role": 3, "user": 1, "self-approved": 0, "assigned": 0},
        "by_strategy": {
            "anyone": 1,
            "consensus": 1,
            "round_robin": 1,
            "quorum": 0,
            "majority": 0,
            "percentage": 0,
        },
        "stages_with_forms": 3,
        "pipeline_breakdown": [
            {
                "pipeline_name": "Finance Review",
                "pipeline_order": 1,
                "stages": [
                    {
                        "stage_name": "Initial Review",
                        "stage_order": 1,
                        "approvals_count": 1,
                        "has_forms": True,
                    },
                    {
                        "stage_name": "Budget Approval",
                        "stage_order": 2,
                        "approvals_count": 1,
                        "has_forms": True,
                    },
                    {
                        "stage_name": "Final Finance Sign-off",
                        "stage_order": 3,
                        "approvals_count": 1,
                        "has_forms": True,
                    },
                ],
                "total_approvals": 3,
            },
            {
                "pipeline_name": "Executive Approval",
                "pipeline_order": 2,
                "stages": [
                    {
                        "stage_name": "Executive Approval",
                        "stage_order": 1,
                        "approvals_count": 1,
                        "has_forms": False,
                    }
                ],
                "total_approvals": 1,
            },
        ],
    }


def test_quorum_majority_and_percentage_are_counted_and_described(acme):
    # given
    reviewers = acme.roles["Finance Reviewer"]
    workflow = create_workflow(
        company=acme.company,
        name_en="Committee",
        pipelines=[
            {
                "name_en": "Committee",
                "stages": [
                    {
                        "name_en": "Vote",
                        "approvals": [
                            role_approval(reviewers, "quorum", quorum_count=2),
                            role_approval(reviewers, "majority"),
                            role_approval(reviewers, "percentage", percentage_required=50),
                            user_approval(acme.user("cfo")),
                        ],
                    }
                ],
            }
        ],
    )

    # when
    summary = get_workflow_approval_summary(workflow.pk)
    detail = get_detailed_workflow_data(workflow_id=workflow.pk)

    # then
    assert summary["by_strategy"] == {
        "anyone": 0,
        "consensus": 0,
        "round_robin": 0,
        "quorum": 1,
        "majority": 1,
        "percentage": 1,
    }
    assert summary["by_type"] == {"role": 3, "user": 1, "self-approved": 0, "assigned": 0}
    assert summary["stages_with_forms"] == 0
    approvals = detail["pipelines"][0]["stages"][0]["approval_configuration"]["approvals"]
    assert [(a["approval_type_display"], a["strategy_display"]) for a in approvals] == [
        ("Role-based Approval", "A set number of users with role must approve"),
        ("Role-based Approval", "More than half of the users with role must approve"),
        ("Role-based Approval", "A set share of the users with role must approve"),
        ("User-specific Approval", ""),
    ]
    assert approvals[0]["quorum_count"] == 2
    assert approvals[2]["percentage_required"] == 50


def test_unknown_or_malformed_ids_give_none(acme):
    missing = Workflow.objects.order_by("-id").values_list("id", flat=True).first() + 1000

    for workflow_id in (missing, "abc", "", True):
        assert get_detailed_workflow_data(workflow_id=workflow_id) is None
        assert get_workflow_pipeline_structure(workflow_id) is None
        assert get_workflow_approval_summary(workflow_id) is None


def test_inactive_workflow_detail_needs_include_inactive(acme):
    update_workflow(workflow=acme.workflow, is_active=False)

    assert get_detailed_workflow_data(workflow_id=acme.workflow.pk) is None
    data = get_detailed_workflow_data(workflow_id=acme.workflow.pk, include_inactive=True)
    assert (data["id"], data["is_active"]) == (acme.workflow.pk, False)
    # The structure and the summary are not filtered by activity, as in the seed.
    assert get_workflow_pipeline_structure(acme.workflow.pk)["total_stages"] == 4
    assert get_workflow_approval_summary(acme.workflow.pk)["total_approvals"] == 4


# ----------------------------------------------------------------------------- tenancy


def test_a_workflow_of_another_company_is_none(acme, globex):
    workflow_id = acme.workflow.pk
    globex_id = globex.company.pk

    assert get_detailed_workflow_data(workflow_id=workflow_id, company_id=globex_id) is None
    assert get_workflow_pipeline_structure(workflow_id, company_id=globex_id) is None
    assert get_workflow_approval_summary(workflow_id, company_id=globex_id) is None
    assert (
        get_detailed_workflow_data(workflow_id=workflow_id, company_id=acme.company.pk)["id"]
        == workflow_id
    )


def test_list_and_statistics_of_one_company_ignore_other_companies(acme, globex):
    assert (
        get_detailed_workflow_data(company_id=globex.company.pk)["workflows"][0]["id"]
        == globex.workflow.pk
    )
    assert get_workflow_statistics(company_id=acme.company.pk) == ACME_STATISTICS


# ----------------------------------------------------------------------------- lists and statistics


def test_list_of_a_company(acme, globex):
    workflow = Workflow.objects.get(pk=acme.workflow.pk)

    with assert_max_queries(1):
        data = get_detailed_workflow_data(company_id=acme.company.pk)

    assert data == {
        "workflows": [
            {
                "id": workflow.pk,
                "name_en": "Purchase Request Approval",
                "name_ar": "موافقة طلب الشراء",
                "company": "acme",
                "company_name": "Acme",
                "is_active": True,
                "description": "Finance review followed by executive approval.",
                "pipelines_count": 2,
                "total_stages_count": 4,
                "created_at": workflow.created_at,
                "modified_at": workflow.modified_at,
            }
        ],
        "total_count": 1,
        "statistics": ACME_STATISTICS,
    }


def test_statistics_of_every_company(acme, globex):
    with assert_max_queries(1):
        data = get_workflow_statistics()

    assert data == {
        "overview": {
            "total_workflows": 2,
            "active_workflows": 2,
            "inactive_workflows": 0,
            "total_pipelines": 4,
            "total_stages": 8,
            "total_approvals": 8,
            "avg_pipelines_per_workflow": 2.0,
            "avg_stages_per_workflow": 4.0,
        },
        "by_company": {
            "acme": {"workflows": 1, "pipelines": 2, "stages": 4, "approvals": 4},
            "globex": {"workflows": 1, "pipelines": 2, "stages": 4, "approvals": 4},
        },
    }
    assert get_detailed_workflow_data()["statistics"] == data
    assert [w["company"] for w in get_detailed_workflow_data()["workflows"]] == ["globex", "acme"]


def test_inactive_templates_are_listed_only_on_request_but_always_counted(acme):
    # given: a second template, inactive, with an empty pipeline and no approvals
    draft = create_workflow(
        company=acme.company,
        name_en="Draft",
        is_active=False,
        pipelines=[
            {"name_en": "Empty"},
            {"name_en": "Open", "stages": [{"name_en": "Free"}, {"name_en": "Also free"}]},
        ],
    )
    company_id = acme.company.pk

    # when
    active_only = get_detailed_workflow_data(company_id=company_id)
    everything = get_detailed_workflow_data(company_id=company_id, include_inactive=True)
    statistics = get_workflow_statistics(company_id=company_id)

    # then
    assert [w["id"] for w in active_only["workflows"]] == [acme.workflow.pk]
    assert active_only["statistics"] == ACME_STATISTICS
    assert [
        (w["id"], w["pipelines_count"], w["total_stages_count"]) for w in everything["workflows"]
    ] == [
        (draft.pk, 2, 2),
        (acme.workflow.pk, 2, 4),
    ]
    assert everything["total_count"] == 2
    expected = {
        "overview": {
            "total_workflows": 2,
            "active_workflows": 1,
            "inactive_workflows": 1,
            "total_pipelines": 4,
            "total_stages": 6,
            "total_approvals": 4,
            "avg_pipelines_per_workflow": 2.0,
            "avg_stages_per_workflow": 3.0,
        },
        "by_company": {"acme": {"workflows": 2, "pipelines": 4, "stages": 6, "approvals": 4}},
    }
    assert everything["statistics"] == expected
    assert statistics == expected


def test_averages_are_rounded_and_an_empty_company_has_zeros(acme):
    create_workflow(company=acme.company, name_en="Bare")
    create_workflow(company=acme.company, name_en="One", pipelines=[{"name_en": "P"}])

    overview = get_workflow_statistics(company_id=acme.company.pk)["overview"]
    empty = get_workflow_statistics(company_id=acme.user("employee").pk)

    assert (overview["avg_pipelines_per_workflow"], overview["avg_stages_per_workflow"]) == (
        1.0,
        1.33,
    )
    assert empty == {
        "overview": {
            "total_workflows": 0,
            "active_workflows": 0,
            "inactive_workflows": 0,
            "total_pipelines": 0,
            "total_stages": 0,
            "total_approvals": 0,
            "avg_pipelines_per_workflow": 0,
            "avg_stages_per_workflow": 0,
        },
        "by_company": {},
    }


def test_company_name_falls_back_to_the_username_and_no_company_is_grouped(db):
    bare = get_user_model().objects.create(username="bare-co")
    create_workflow(company=bare, name_en="Bare company")
    Workflow.objects.create(company=None, name_en="Orphan")

    rows = get_detailed_workflow_data()["workflows"]
    statistics = get_workflow_statistics()

    assert [(w["name_en"], w["company"], w["company_name"]) for w in rows] == [
        ("Orphan", None, None),
        ("Bare company", "bare-co", "bare-co"),
    ]
    assert statistics["by_company"] == {
        "No Company": {"workflows": 1, "pipelines": 0, "stages": 0, "approvals": 0},
        "bare-co": {"workflows": 1, "pipelines": 0, "stages": 0, "approvals": 0},
    }


# ----------------------------------------------------------------------------- run copies


def test_run_copies_are_never_listed_or_counted(acme, globex):
    # given
    before_list = get_detailed_workflow_data(company_id=acme.company.pk)
    before_all = get_workflow_statistics()

    # when
    copies = attach_to_new_requests(acme, 3)

    # then
    assert Workflow.objects.filter(company=acme.company, is_hidden=True).count() == 3
    assert all(copy.is_hidden and copy.cloned_from_id == acme.workflow.pk for copy in copies)
    assert get_detailed_workflow_data(company_id=acme.company.pk) == before_list
    assert (
        get_detailed_workflow_data(company_id=acme.company.pk, include_inactive=True)["total_count"]
        == 1
    )
    assert get_workflow_statistics(company_id=acme.company.pk) == ACME_STATISTICS
    assert get_workflow_statistics() == before_all
    assert get_detailed_workflow_data()["total_count"] == 2


def test_a_run_copy_can_still_be_read_by_id_within_its_company(acme, globex):
    (copy,) = attach_to_new_requests(acme, 1)

    data = get_workflow_pipeline_structure(copy.pk, company_id=acme.company.pk)

    assert data["workflow_name"] == "Purchase Request Approval (Copy)"
    assert data["total_stages"] == 4
    assert get_workflow_pipeline_structure(copy.pk, company_id=globex.company.pk) is None
    assert (
        get_detailed_workflow_data(workflow_id=copy.pk, company_id=acme.company.pk)["id"] == copy.pk
    )


# ----------------------------------------------------------------------------- query counts


def count_queries(function: Any, *args: Any, **kwargs: Any) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as context:
        result = function(*args, **kwargs)
    return len(context.captured_queries), result


def test_list_and_statistics_cost_one_query_for_1_or_50_workflows(acme):
    # given
    company = get_user_model().objects.create(username="bulk-co")
    bulk_workflows(company, 1, pipelines=5, stages=5)
    one = (
        count_queries(get_detailed_workflow_data, company_id=company.pk)[0],
        count_queries(get_workflow_statistics, company_id=company.pk)[0],
    )
    bulk_workflows(company, 49, pipelines=5, stages=5)

    # when
    with assert_max_queries(1):
        listed = get_detailed_workflow_data(company_id=company.pk)
    with assert_max_queries(1):
        statistics = get_workflow_statistics(company_id=company.pk)

    # then
    assert one == (1, 1)
    assert listed["total_count"] == 50
    assert {(w["pipelines_count"], w["total_stages_count"]) for w in listed["workflows"]} == {
        (5, 25)
    }
    assert statistics == listed["statistics"]
    assert statistics["overview"] == {
        "total_workflows": 50,
        "active_workflows": 50,
        "inactive_workflows": 0,
        "total_pipelines": 250,
        "total_stages": 1250,
        "total_approvals": 1250,
        "avg_pipelines_per_workflow": 5.0,
        "avg_stages_per_workflow": 25.0,
    }


def test_one_workflow_costs_the_same_for_1_or_50_pipelines_with_departments(acme):
    # given: the department's ContentType is cached, as it is after the first request
    finance = acme.departments["Finance"]
    small = bulk_workflows(acme.company, 1, pipelines=1, stages=1, department=finance)[0]
    get_workflow_pipeline_structure(small.pk)
    large = bulk_workflows(acme.company, 1, pipelines=50, stages=5, department=finance)[0]

    for function in (
        lambda pk: get_detailed_workflow_data(workflow_id=pk),
        get_workflow_pipeline_structure,
        get_workflow_approval_summary,
    ):
        # when
        small_count, _ = count_queries(function, small.pk)
        with assert_max_queries(small_count):
            data = function(large.pk)

        # then
        assert small_count <= 4
        assert data is not None

    detail = get_detailed_workflow_data(workflow_id=large.pk)
    assert detail["total_stages_count"] == 250
    assert {p["department_name"] for p in detail["pipelines"]} == {"Finance"}
    assert count_queries(get_detailed_workflow_data, workflow_id=large.pk)[0] == 4
    assert count_queries(get_workflow_approval_summary, large.pk)[0] == 3
