"""What django-dynamic-workflows documents works here too (issue #14).

Model-workflow mappings and their lookup helpers, nested actions and ``stage_info`` in the
builders, both handler conventions, the seed's ``resolve_recipients`` call, a status field that
went missing, the attachment's ``next_stage`` / ``progress_percentage``, the
``APPROVAL_DYNAMIC_FORM_MODEL`` alias and the workflow ``status`` (draft / active / archived).
"""

from __future__ import annotations

import logging
from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse

from backend.demo.models import Opportunity, PurchaseRequest, Ticket
from backend.workflows.approval_config import (
    form_model,
    form_required_fields,
    validate_approvals,
)
from backend.workflows.constants import (
    ActionType,
    AttachmentStatus,
    ErrorCode,
    EventType,
    HandlerConvention,
    WorkflowStatus,
)
from backend.workflows.exceptions import WorkflowValidationError
from backend.workflows.models import (
    DynamicForm,
    Stage,
    Workflow,
    WorkflowAction,
    WorkflowConfiguration,
    WorkflowEvent,
)
from backend.workflows.services import (
    add_stage,
    approve_stage,
    attach_workflow_to_object,
    clone_workflow,
    create_workflow,
    create_workflow_action,
    get_available_workflows_for_selection,
    get_workflow_attachment,
    get_workflows_for_model,
    get_workflows_for_object,
    is_model_enabled_for_workflows,
    register_model_for_workflow,
    update_stage,
    update_workflow,
)
from tests.support import seed_handlers
from tests.support.action_handlers import ALLOWED as TEST_HANDLERS
from tests.support.database_state import attachment_state, database_state, event_types
from tests.support.helpers import assert_max_queries, make_purchase_request
from tests.support.purchase_steps import approve_current_stage, start_purchase_request
from tests.support.seed_handlers import SEED_CALLS
from tests.support.workflow_builders import user_approval

pytestmark = pytest.mark.django_db

RECORD = f"{TEST_HANDLERS}.record"
SEED_RECORD = f"{seed_handlers.ALLOWED}.record_seed"


@pytest.fixture
def engine(settings):
    """Return a function that replaces keys of ``DJANGO_WORKFLOW_ENGINE`` for one test."""

    def configure(**keys):
        settings.DJANGO_WORKFLOW_ENGINE = {**settings.DJANGO_WORKFLOW_ENGINE, **keys}

    return configure


@pytest.fixture
def handlers(settings):
    """Allow both test handler modules, switch the default e-mails off, collect calls."""
    settings.WORKFLOW_ACTION_ALLOWED_MODULES = [TEST_HANDLERS, seed_handlers.ALLOWED]
    settings.WORKFLOW_AUTO_CREATE_ACTIONS = False
    SEED_CALLS.clear()
    yield SEED_CALLS
    SEED_CALLS.clear()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def template(scenario, name, *, slug="", status=None):
    return create_workflow(
        company=scenario.company,
        name_en=name,
        slug=slug,
        status=status,
        pipelines=[
            {
                "name_en": "Main",
                "stages": [{"name_en": "Only", "approvals": [user_approval(scenario.user("cfo"))]}],
            }
        ],
    )


# --------------------------------------------------------------------------- mappings


def test_attach_refuses_a_workflow_outside_model_workflow_mappings(acme, engine):
    # given: purchase requests may only run the emergency workflow
    engine(MODEL_WORKFLOW_MAPPINGS={"demo.PurchaseRequest": ["emergency_approval"]})
    request = make_purchase_request(acme)
    before = database_state()

    # when
    with pytest.raises(WorkflowValidationError) as caught:
        attach_workflow_to_object(obj=request, workflow=acme.workflow, user=acme.user("requester"))

    # then
    assert (caught.value.code, caught.value.message, caught.value.field) == (
        ErrorCode.VALIDATION_ERROR,
        "Workflow 'purchase_approval' is not mapped to demo.PurchaseRequest in "
        "MODEL_WORKFLOW_MAPPINGS.",
        "workflowId",
    )
    assert database_state() == before


def test_attach_accepts_a_mapped_workflow_by_slug_or_by_name_and_the_default_entry(acme, engine):
    emergency = template(acme, "Emergency Approval", slug="emergency_approval")
    # by slug
    engine(MODEL_WORKFLOW_MAPPINGS={"demo.PurchaseRequest": ["emergency_approval"]})
    first = make_purchase_request(acme, title="First")
    attachment = attach_workflow_to_object(
        obj=first, workflow=emergency, user=acme.user("requester")
    )
    assert attachment.workflow.cloned_from == emergency
    # by English name, as the seed matched, through the "default" entry
    engine(MODEL_WORKFLOW_MAPPINGS={"default": ["Purchase Request Approval"]})
    second = make_purchase_request(acme, title="Second")
    attachment = attach_workflow_to_object(
        obj=second, workflow=acme.workflow, user=acme.user("requester")
    )
    assert attachment.status == AttachmentStatus.IN_PROGRESS
    with pytest.raises(WorkflowValidationError) as caught:
        attach_workflow_to_object(
            obj=make_purchase_request(acme, title="Third"),
            workflow=emergency,
            user=acme.user("requester"),
        )
    assert caught.value.message == (
        "Workflow 'emergency_approval' is not mapped to demo.PurchaseRequest in "
        "MODEL_WORKFLOW_MAPPINGS."
    )


def test_lookup_helpers_follow_the_mappings_status_and_enabled_models(acme, globex, engine):
    # given: two more acme templates (one a draft, one archived) and a clone
    emergency = template(acme, "Emergency Approval", slug="emergency_approval")
    template(acme, "Drafted", slug="emergency_approval", status="draft")
    archived = template(acme, "Old", slug="purchase_approval")
    update_workflow(workflow=archived, status="archived")
    copy = clone_workflow(workflow=acme.workflow, name_en="Copy of purchase")
    request = make_purchase_request(acme)
    engine(
        ENABLED_MODELS=["demo.PurchaseRequest", "demo.Ticket"],
        MODEL_WORKFLOW_MAPPINGS={
            "demo.PurchaseRequest": ["purchase_approval", "emergency_approval"],
            "demo.Ticket": [],
        },
    )

    # then: mapped, active templates only, sorted by name; every company without company=
    assert get_workflows_for_model(PurchaseRequest, company=acme.company) == [
        copy,  # a copy keeps the slug of its template
        emergency,
        acme.workflow,
    ]
    assert get_workflows_for_model(PurchaseRequest) == [
        copy,
        emergency,
        acme.workflow,
        globex.workflow,
    ]
    assert get_workflows_for_object(request, company=acme.company.pk) == [
        copy,
        emergency,
        acme.workflow,
    ]
    assert get_workflows_for_model(Ticket) == []  # mapped to nothing
    assert get_workflows_for_model(Opportunity) == []  # not in ENABLED_MODELS
    assert (
        is_model_enabled_for_workflows(Ticket),
        is_model_enabled_for_workflows(Opportunity),
    ) == (
        True,
        False,
    )
    with assert_max_queries(1):
        selection = get_available_workflows_for_selection(PurchaseRequest, company=acme.company)
    assert selection == [
        {
            "id": copy.pk,
            "name": "Copy of purchase",
            "name_ar": "موافقة طلب الشراء (نسخة)",
            "description": "Finance review followed by executive approval.",
            "slug": "purchase_approval",
            "pipeline_count": 2,
            "is_active": True,
            "status": "active",
        },
        {
            "id": emergency.pk,
            "name": "Emergency Approval",
            "name_ar": "",
            "description": "",
            "slug": "emergency_approval",
            "pipeline_count": 1,
            "is_active": True,
            "status": "active",
        },
        {
            "id": acme.workflow.pk,
            "name": "Purchase Request Approval",
            "name_ar": "موافقة طلب الشراء",
            "description": "Finance review followed by executive approval.",
            "slug": "purchase_approval",
            "pipeline_count": 2,
            "is_active": True,
            "status": "active",
        },
    ]


def test_without_a_mapping_every_active_template_of_an_enabled_model_is_available(acme, engine):
    engine(MODEL_WORKFLOW_MAPPINGS={"demo.Ticket": ["support"]})
    draft = template(acme, "Drafted", status="draft")

    assert get_workflows_for_model(PurchaseRequest, company=acme.company) == [acme.workflow]
    assert draft not in get_workflows_for_model(PurchaseRequest)


# --------------------------------------------------------------------------- nested actions


def nested_workflow(scenario, *, stage_path=RECORD, **extra):
    return create_workflow(
        company=scenario.company,
        name_en="Purchase Request",
        name_ar="طلب شراء",
        status="active",
        actions=[
            {
                "action_type": "after_approve",
                "function_path": RECORD,
                "parameters": {"template": "custom_approved", "recipients": ["creator"]},
                "order": 1,
                "is_active": True,
            },
            {"action_type": "after_reject", "function_path": SEED_RECORD, "order": 1},
        ],
        pipelines=[
            {
                "name_en": "Finance Review",
                "order": 0,
                "actions": [
                    {
                        "action_type": "after_move_stage",
                        "function_path": RECORD,
                        "parameters": {"team_email": "finance@example.com"},
                        "order": 1,
                    }
                ],
                "stages": [
                    {
                        "name_en": "Budget Approval",
                        "order": 0,
                        "stage_info": {
                            "color": "#f39c12",
                            "approvals": [user_approval(scenario.user("cfo"))],
                        },
                        "actions": [
                            {
                                "action_type": "after_approve",
                                "function_path": stage_path,
                                "parameters": {"api_endpoint": "/api/budget/update"},
                                "order": 1,
                            }
                        ],
                    }
                ],
            }
        ],
        **extra,
    )


def test_create_workflow_takes_actions_at_every_level_and_stage_info(acme, handlers):
    # when
    workflow = nested_workflow(acme)

    # then
    stage = Stage.objects.get(pipeline__workflow=workflow)
    assert (stage.color, stage.approvals) == (
        "#f39c12",
        [{"approval_type": "user", "behaviour": "approve", "approval_user": acme.user("cfo").pk}],
    )
    rows = WorkflowAction.objects.filter(
        Q(workflow=workflow)
        | Q(pipeline__workflow=workflow)
        | Q(stage__pipeline__workflow=workflow)
    ).order_by("pk")
    assert [
        (row.scope_level, row.action_type, row.function_path, row.parameters, row.order)
        for row in rows
    ] == [
        ("pipeline", "after_move_stage", RECORD, {"team_email": "finance@example.com"}, 1),
        ("stage", "after_approve", RECORD, {"api_endpoint": "/api/budget/update"}, 1),
        (
            "workflow",
            "after_approve",
            RECORD,
            {"template": "custom_approved", "recipients": ["creator"]},
            1,
        ),
        ("workflow", "after_reject", SEED_RECORD, {}, 1),
    ]
    assert [row.handler_convention for row in rows] == [
        "context",
        "context",
        "context",
        "attachment",
    ]


@pytest.mark.parametrize(
    ("change", "message", "field"),
    [
        (
            {"stage_path": "os.system"},
            "os.system is not a registered workflow action and is not in a module listed in "
            "WORKFLOW_ACTION_ALLOWED_MODULES.",
            "pipelines[0].stages[0].actions[0].functionPath",
        ),
        (
            {"stage_path": f"{seed_handlers.ALLOWED}.three_arguments"},
            f"{seed_handlers.ALLOWED}.three_arguments must accept (context, parameters) or "
            "(workflow_attachment, action_parameters, **context).",
            "pipelines[0].stages[0].actions[0].functionPath",
        ),
    ],
)
def test_a_refused_nested_action_writes_nothing(acme, handlers, change, message, field):
    before = database_state()

    with pytest.raises(WorkflowValidationError) as caught:
        nested_workflow(acme, **change)

    assert (caught.value.code, caught.value.message, caught.value.field) == (
        ErrorCode.VALIDATION_ERROR,
        message,
        field,
    )
    assert database_state() == before


@pytest.mark.parametrize(
    ("pipelines", "actions", "message", "field"),
    [
        (
            [{"name_en": "P", "stages": [{"name_en": "S", "stage_info": {"colour": "red"}}]}],
            None,
            "Unknown stage_info keys: colour.",
            "pipelines[0].stages[0].stageInfo",
        ),
        (
            [
                {
                    "name_en": "P",
                    "stages": [{"name_en": "S", "color": "#fff", "stage_info": {"color": "#000"}}],
                }
            ],
            None,
            "Give color either in stage_info or directly, not both.",
            "pipelines[0].stages[0].stageInfo",
        ),
        (
            [{"name_en": "P", "stages": [{"name_en": "S", "form_info": {}}]}],
            None,
            "Unknown stage keys: form_info.",
            "pipelines[0].stages[0]",
        ),
        (
            [{"name_en": "P", "pipeline_info": {}}],
            None,
            "Unknown pipeline keys: pipeline_info.",
            "pipelines[0]",
        ),
        (
            [],
            [{"action_type": "after_approve", "function_path": RECORD, "when": "now"}],
            "Unknown action keys: when.",
            "actions[0]",
        ),
        (
            [],
            [{"action_type": "before_approve", "function_path": RECORD}],
            "Unknown action type 'before_approve'; use one of after_approve, after_reject, "
            "after_resubmission, after_delegate, after_move_stage, after_move_pipeline, "
            "on_workflow_start, on_workflow_complete.",
            "actions[0].actionType",
        ),
        ([], {"action_type": "after_approve"}, "Actions must be a list.", "actions"),
    ],
)
def test_create_workflow_refuses_unknown_keys_instead_of_dropping_them(
    acme, handlers, pipelines, actions, message, field
):
    before = database_state()

    with pytest.raises(WorkflowValidationError) as caught:
        create_workflow(company=acme.company, name_en="Bad", pipelines=pipelines, actions=actions)

    assert (caught.value.message, caught.value.field) == (message, field)
    assert database_state() == before


def test_update_and_add_stage_take_stage_info_and_actions(acme, handlers):
    stage = acme.workflow.pipelines.first().stages.first()
    role = acme.roles["Budget Manager"]

    update_stage(
        stage=stage,
        stage_info={
            "color": "#000000",
            "approvals": [{"approval_type": "role", "user_role": role.pk}],
        },
        actions=[{"action_type": "after_approve", "function_path": SEED_RECORD}],
    )
    added = add_stage(
        pipeline=stage.pipeline,
        name_en="Extra",
        stage_info={"approvals": [user_approval(acme.user("cfo"))]},
        actions=[{"action_type": "after_reject", "function_path": RECORD}],
    )

    stage.refresh_from_db()
    assert (stage.color, stage.approvals) == (
        "#000000",
        [
            {
                "approval_type": "role",
                "behaviour": "approve",
                "user_role": role.pk,
                "role_selection_strategy": "anyone",
            }
        ],
    )
    assert list(stage.actions.values_list("action_type", "handler_convention")) == [
        ("after_approve", "attachment")
    ]
    assert (added.color, len(added.approvals)) == ("#3498db", 1)
    assert list(added.actions.values_list("action_type", "function_path", "order")) == [
        ("after_reject", RECORD, 1)
    ]
    # a second update replaces the stage's actions
    update_stage(stage=stage, actions=[])
    assert stage.actions.count() == 0


def test_update_stage_refuses_an_unknown_stage_info_key(acme):
    stage = acme.workflow.pipelines.first().stages.first()
    before = database_state()

    with pytest.raises(WorkflowValidationError) as caught:
        update_stage(stage=stage, stage_info={"approvals": [], "required_form": 1})

    assert (caught.value.message, caught.value.field) == (
        "Unknown stage_info keys: required_form.",
        "stageInfo",
    )
    assert database_state() == before


# --------------------------------------------------------------------------- handler conventions


def test_both_handler_conventions_run_with_the_seed_context_keys(acme, handlers, committed):
    # given: the seed's handler on the first stage, the project's on the same event
    first_stage = acme.workflow.pipelines.first().stages.first()
    seed_action = create_workflow_action(
        stage=first_stage,
        action_type=ActionType.AFTER_APPROVE,
        function_path=SEED_RECORD,
        parameters={"template": "custom_approved"},
    )
    named = create_workflow_action(
        stage=first_stage,
        action_type=ActionType.AFTER_APPROVE,
        function_path=f"{seed_handlers.ALLOWED}.record_named",
    )
    assert (seed_action.handler_convention, named.handler_convention) == (
        HandlerConvention.ATTACHMENT,
        HandlerConvention.ATTACHMENT,
    )
    request, attachment = start_purchase_request(acme)

    # when: Initial Review is approved and the workflow moves to Budget Approval
    with committed():
        approve_current_stage(attachment, request)

    # then
    assert [call[0] for call in SEED_CALLS] == ["record_seed", "record_named"]
    _, workflow_attachment, parameters, context = SEED_CALLS[0]
    assert workflow_attachment.pk == attachment.pk
    assert parameters == {"template": "custom_approved"}
    assert sorted(context) == [
        "action_type",
        "approved_stage",
        "attachment",
        "current_pipeline",
        "current_stage",
        "delegate_user",
        "event",
        "form_data",
        "from_pipeline",
        "from_stage",
        "obj",
        "pipeline",
        "reason",
        "stage",
        "status",
        "target_stage",
        "to_pipeline",
        "to_stage",
        "user",
        "workflow",
    ]
    assert (
        context["action_type"],
        context["status"],
        context["approved_stage"].name_en,
        context["stage"].name_en,
        context["current_stage"].name_en,
        context["current_pipeline"].name_en,
        context["obj"],
        context["user"].username,
    ) == (
        "after_approve",
        "in_progress",
        "Initial Review",
        "Initial Review",
        "Budget Approval",
        "Finance Review",
        request,
        "acme-finance_reviewer1",
    )
    assert {name: stage.name_en for name, stage in SEED_CALLS[1][3].items()} == {
        "approved_stage": "Initial Review",
        "current_stage": "Budget Approval",
    }
    assert not WorkflowEvent.objects.filter(event_type=EventType.ACTION_FAILED).exists()


def test_the_project_context_also_answers_the_seed_keys(acme, handlers, committed):
    from tests.support.action_handlers import CALLS

    CALLS.clear()
    create_workflow_action(
        workflow=acme.workflow, action_type=ActionType.AFTER_APPROVE, function_path=RECORD
    )
    request, attachment = start_purchase_request(acme)

    with committed():
        approve_current_stage(attachment, request)

    (_, _, context, _), *_ = CALLS
    assert (
        context["approved_stage"].name_en,
        context.current_stage.name_en,
        context.get("status"),
        context["workflow_attachment"].pk,
        context.target_stage,
    ) == ("Initial Review", "Budget Approval", "in_progress", attachment.pk, None)
    CALLS.clear()


def test_a_handler_fitting_neither_convention_is_refused_when_saved(acme, handlers):
    before = database_state()

    with pytest.raises(WorkflowValidationError) as caught:
        create_workflow_action(
            workflow=acme.workflow,
            action_type=ActionType.AFTER_APPROVE,
            function_path=f"{seed_handlers.ALLOWED}.three_arguments",
        )

    assert (caught.value.message, caught.value.field) == (
        f"{seed_handlers.ALLOWED}.three_arguments must accept (context, parameters) or "
        "(workflow_attachment, action_parameters, **context).",
        "functionPath",
    )
    assert database_state() == before


def test_resolve_recipients_accepts_the_seed_keyword_form(acme, handlers, committed):
    create_workflow_action(
        workflow=acme.workflow,
        action_type=ActionType.AFTER_APPROVE,
        function_path=f"{seed_handlers.ALLOWED}.resolve_seed_recipients",
        parameters={"recipients": ["creator", "current_approver", "boss@acme.example"]},
    )
    request, attachment = start_purchase_request(acme)

    with committed():
        approve_current_stage(attachment, request)

    ((name, _, _, context),) = SEED_CALLS
    resolved = [getattr(item, "username", item) for item in context["resolved"]]
    assert (name, resolved[0], resolved[-1]) == (
        "resolve_seed_recipients",
        "acme-requester",
        "boss@acme.example",
    )
    assert sorted(resolved[1:-1]) == ["acme-budget_manager1", "acme-budget_manager2"]


# --------------------------------------------------------------------------- status field


def test_a_status_field_missing_at_completion_still_completes_and_is_audited(acme, caplog):
    # given: the model no longer has the configured field (changed after configuration)
    request, attachment = start_purchase_request(acme, at_stage="Executive Approval")
    WorkflowConfiguration.objects.filter(
        content_type=ContentType.objects.get_for_model(PurchaseRequest)
    ).update(status_field="no_such_field")

    # when
    with caplog.at_level(logging.WARNING, logger="backend.workflows.services.running"):
        approve_current_stage(attachment, request)

    # then
    assert attachment_state(attachment) == ("completed", None, None)
    request.refresh_from_db()
    assert request.workflow_status == "pending"
    message = (
        "demo.PurchaseRequest has no field 'no_such_field'; could not write 'approved' on "
        "workflow completed."
    )
    assert caplog.messages == [f"{message} (attachment {attachment.pk})"]
    event = WorkflowEvent.objects.get(attachment=attachment, event_type="status_not_written")
    assert (event.reason, event.details, event.actor_id) == (
        message,
        {"status_field": "no_such_field", "value": "approved", "outcome": "completed"},
        None,
    )
    # recorded when the write is attempted, in the same transaction as the completion
    assert event_types(attachment)[-3:] == ["status_not_written", "approved", "completed"]


def test_a_status_field_is_checked_when_it_is_configured(acme):
    with pytest.raises(WorkflowValidationError) as caught:
        register_model_for_workflow(PurchaseRequest, status_field="no_such_field")
    assert (caught.value.message, caught.value.field) == (
        "demo.PurchaseRequest has no field 'no_such_field'.",
        "statusField",
    )
    configuration = WorkflowConfiguration.objects.get(
        content_type=ContentType.objects.get_for_model(PurchaseRequest)
    )
    configuration.status_field, configuration.stage_field = "no_such_field", "nor_this"
    with pytest.raises(ValidationError) as admin_error:
        configuration.full_clean()
    assert admin_error.value.message_dict == {
        "status_field": ["demo.PurchaseRequest has no field 'no_such_field'."],
        "stage_field": ["demo.PurchaseRequest has no field 'nor_this'."],
    }


# --------------------------------------------------------------------------- attachment properties


def test_next_stage_and_progress_percentage_properties(acme):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    fresh = type(attachment).objects.get(pk=attachment.pk)

    with assert_max_queries(1):
        assert (fresh.next_stage.name_en, fresh.progress_percentage) == (
            "Final Finance Sign-off",
            25.0,
        )

    approve_current_stage(attachment, request)
    approve_current_stage(attachment, request)
    approve_current_stage(attachment, request)
    done = type(attachment).objects.get(pk=attachment.pk)
    assert (done.status, done.next_stage, done.progress_percentage) == ("completed", None, 100.0)


# --------------------------------------------------------------------------- form model alias


def test_approval_dynamic_form_model_is_an_alias_of_the_form_model(acme, settings):
    settings.DJANGO_WORKFLOW_ENGINE = {
        key: value for key, value in settings.DJANGO_WORKFLOW_ENGINE.items() if key != "FORM_MODEL"
    }
    # a group whose id no DynamicForm has
    free_id = max(DynamicForm.objects.order_by("-pk")[0].pk, Group.objects.order_by("-pk")[0].pk)
    group = Group.objects.create(pk=free_id + 1, name="Seed-style form")
    approvals = [
        {"approval_type": "user", "approval_user": acme.user("cfo").pk, "required_form": group.pk}
    ]
    assert form_model() is DynamicForm  # the default
    with pytest.raises(WorkflowValidationError) as caught:
        validate_approvals(approvals, company_id=None)
    assert caught.value.message == f"Form {group.pk} does not exist."

    settings.APPROVAL_DYNAMIC_FORM_MODEL = "auth.Group"

    assert form_model() is Group
    assert validate_approvals(approvals, company_id=None)[0]["required_form"] == group.pk
    # FORM_MODEL, when set, wins over the alias
    settings.DJANGO_WORKFLOW_ENGINE = {
        **settings.DJANGO_WORKFLOW_ENGINE,
        "FORM_MODEL": "workflows.DynamicForm",
    }
    assert form_model() is DynamicForm


def test_approving_checks_required_fields_of_the_configured_form_model(acme, settings):
    # given: a stage requiring "form" 1 of the alias model (a group: no required fields)
    settings.DJANGO_WORKFLOW_ENGINE = {
        key: value for key, value in settings.DJANGO_WORKFLOW_ENGINE.items() if key != "FORM_MODEL"
    }
    settings.APPROVAL_DYNAMIC_FORM_MODEL = "auth.Group"
    role = acme.roles["Executive"]
    workflow = create_workflow(
        company=acme.company,
        name_en="Group form",
        pipelines=[
            {
                "name_en": "Main",
                "stages": [
                    {
                        "name_en": "Only",
                        "approvals": [
                            {**user_approval(acme.user("cfo")), "required_form": role.pk}
                        ],
                    }
                ],
            }
        ],
    )
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=workflow, user=acme.user("requester")
    )

    approve_stage(obj=request, user=acme.user("cfo"), form_data={"note": "ok"})

    assert attachment_state(attachment) == ("completed", None, None)


def test_form_required_fields_read_the_seed_form_schema_too():
    seed_form = SimpleNamespace(
        form_schema={"fields": [{"name": "budget_code", "required": True}, {"name": "note"}]}
    )
    project_form = SimpleNamespace(schema={"fields": [{"name": "ref", "required": True}]})

    assert form_required_fields(seed_form) == ["budget_code"]
    assert form_required_fields(project_form) == ["ref"]
    assert form_required_fields(SimpleNamespace()) == []


# --------------------------------------------------------------------------- workflow status


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("draft", "The workflow is a draft; activate it before attaching it."),
        ("archived", "The workflow is archived and can no longer be attached."),
    ],
)
def test_drafts_and_archived_workflows_cannot_be_attached(acme, status, message):
    update_workflow(workflow=acme.workflow, status=status)
    request = make_purchase_request(acme)
    before = database_state()

    with pytest.raises(WorkflowValidationError) as caught:
        attach_workflow_to_object(obj=request, workflow=acme.workflow, user=acme.user("requester"))

    assert (caught.value.code, caught.value.message, caught.value.field) == (
        ErrorCode.VALIDATION_ERROR,
        message,
        "workflowId",
    )
    assert database_state() == before


def test_archiving_keeps_running_copies_going(acme):
    request, attachment = start_purchase_request(acme)

    update_workflow(workflow=acme.workflow, status="archived")
    approve_current_stage(attachment, request)

    assert attachment_state(attachment) == ("in_progress", "Finance Review", "Budget Approval")
    assert Workflow.objects.get(pk=acme.workflow.pk).status == "archived"


def test_is_active_is_a_compatibility_alias_of_status(acme):
    # create: is_active=False makes a draft; status alone decides otherwise
    draft = create_workflow(company=acme.company, name_en="Draft", is_active=False)
    assert (draft.status, draft.is_active) == ("draft", False)
    assert create_workflow(company=acme.company, name_en="Active").status == "active"
    # update: the seed's flag archives an active workflow and activates any other
    update_workflow(workflow=acme.workflow, is_active=False)
    assert (acme.workflow.status, acme.workflow.is_active) == ("archived", False)
    update_workflow(workflow=acme.workflow, is_active=True)
    assert (acme.workflow.status, acme.workflow.is_active) == ("active", True)
    # model: setting only is_active, as seed code does, moves the status with it
    workflow = Workflow.objects.get(pk=draft.pk)
    workflow.is_active = True
    workflow.save()
    assert Workflow.objects.filter(pk=draft.pk).values_list("status", "is_active").get() == (
        "active",
        True,
    )
    workflow.status = WorkflowStatus.ARCHIVED
    workflow.save(update_fields=["status"])
    assert Workflow.objects.filter(pk=draft.pk).values_list("status", "is_active").get() == (
        "archived",
        False,
    )
    with pytest.raises(WorkflowValidationError) as caught:
        create_workflow(company=acme.company, name_en="Both", status="draft", is_active=True)
    assert (caught.value.message, caught.value.field) == (
        "is_active contradicts status; give status only.",
        "isActive",
    )
    with pytest.raises(WorkflowValidationError) as caught:
        update_workflow(workflow=acme.workflow, status="inactive")
    assert (caught.value.message, caught.value.field) == (
        "status must be one of draft, active, archived.",
        "status",
    )


def test_the_migration_maps_is_active_onto_status(acme):
    migration = import_module("backend.workflows.migrations.0003_issue14_workflow_status")
    used = acme.workflow
    start_purchase_request(acme)  # gives the template a running copy
    unused = template(acme, "Never attached")
    active = template(acme, "Still active")
    Workflow.objects.filter(pk__in=[used.pk, unused.pk]).update(is_active=False, status="active")

    migration.status_from_is_active(apps, None)

    assert dict(
        Workflow.objects.filter(pk__in=[used.pk, unused.pk, active.pk]).values_list(
            "name_en", "status"
        )
    ) == {
        "Purchase Request Approval": "archived",
        "Never attached": "draft",
        "Still active": "active",
    }


# --------------------------------------------------------------------------- admin


def test_the_admin_refuses_an_unknown_status_field(acme, admin_client):
    configuration = WorkflowConfiguration.objects.get(
        content_type=ContentType.objects.get_for_model(PurchaseRequest)
    )
    form = {
        "content_type": str(configuration.content_type_id),
        "is_enabled": "on",
        "status_field": "no_such_field",
        "stage_field": "",
        "completion_status_value": "approved",
        "rejection_status_value": "denied",
    }
    url = reverse("admin:workflows_workflowconfiguration_change", args=[configuration.pk])
    before = database_state()

    response = admin_client.post(url, form)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "status_field": ["demo.PurchaseRequest has no field 'no_such_field'."]
    }
    assert database_state() == before
    assert admin_client.post(url, {**form, "status_field": "workflow_status"}).status_code == 302


def test_the_admin_edits_the_workflow_status_and_shows_is_active_read_only(acme, admin_client):
    response = admin_client.get(reverse("admin:workflows_workflow_change", args=[acme.workflow.pk]))

    form = response.context["adminform"].form
    assert [value for value, _ in form.fields["status"].choices] == ["draft", "active", "archived"]
    assert "is_active" not in form.fields
    assert "is_active" in response.context["adminform"].readonly_fields


def test_auto_start_skips_an_unmapped_workflow_instead_of_failing_creation(acme, engine, caplog):
    engine(
        AUTO_START_WORKFLOWS={"demo.PurchaseRequest": {"workflow_slug": "purchase_approval"}},
        MODEL_WORKFLOW_MAPPINGS={"demo.PurchaseRequest": ["emergency_approval"]},
    )

    with caplog.at_level(logging.ERROR, logger="backend.workflows.services.registration"):
        request = make_purchase_request(acme)

    assert PurchaseRequest.objects.filter(pk=request.pk).exists()
    assert get_workflow_attachment(request) is None
    assert caplog.messages == [
        "Auto-start workflow 'purchase_approval' is not mapped to demo.PurchaseRequest in "
        "MODEL_WORKFLOW_MAPPINGS; not started."
    ]
    engine(MODEL_WORKFLOW_MAPPINGS={"demo.PurchaseRequest": ["purchase_approval"]})
    assert get_workflow_attachment(make_purchase_request(acme)).status == "in_progress"
