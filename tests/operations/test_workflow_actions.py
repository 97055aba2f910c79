"""Stored workflow actions: path safety, inheritance, cloning, exactly-once dispatch after commit.

The engine we replace runs every action twice per event, never runs completion actions on
cloned workflows, fires reject actions three times and calls any stored dotted path; the
regression tests below pin each of these down.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from backend.workflows.actions import (
    ActionContext,
    registered_actions,
    validate_function_path,
)
from backend.workflows.constants import ActionType, AttachmentStatus, ErrorCode, EventType
from backend.workflows.exceptions import InvalidStateError, WorkflowValidationError
from backend.workflows.models import WorkflowAction, WorkflowAttachment, WorkflowEvent
from backend.workflows.selectors import ordered_stages
from backend.workflows.services import (
    attach_workflow_to_object,
    create_workflow_action,
    delegate_stage,
    delete_workflow_action,
    reject_stage,
    request_resubmission,
    update_workflow_action,
)
from tests.support import action_handlers
from tests.support.action_handlers import ALLOWED, CALLS
from tests.support.database_state import attachment_state, database_state, event_types
from tests.support.helpers import make_purchase_request
from tests.support.purchase_steps import (
    STAGE_ORDER,
    approve_current_stage,
    current_approvers,
    start_purchase_request,
)

RECORD = f"{ALLOWED}.record"
RECORD_OTHER = f"{ALLOWED}.record_other"
FAIL = f"{ALLOWED}.fail"
NOT_ALLOWED = (
    "is not a registered workflow action and is not in a module listed in "
    "WORKFLOW_ACTION_ALLOWED_MODULES."
)


@pytest.fixture
def calls(settings):
    """Allow the test handlers, switch the default e-mails off, and collect handler calls."""
    settings.WORKFLOW_ACTION_ALLOWED_MODULES = [ALLOWED]
    settings.WORKFLOW_AUTO_CREATE_ACTIONS = False
    CALLS.clear()
    yield CALLS
    CALLS.clear()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run on-commit callbacks (the event listeners) as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def add_action(scope, action_type, path=RECORD, **fields):
    scope_name = type(scope).__name__.lower()
    return create_workflow_action(
        **{scope_name: scope}, action_type=action_type, function_path=path, **fields
    )


def summary(entries=None):
    """Return ``(handler, action type, context stage name)`` for each recorded call."""
    return [
        (name, action_type, context.stage.name_en if context.stage else None)
        for name, action_type, context, _ in (CALLS if entries is None else entries)
    ]


def stage_of(workflow, name):
    return next(stage for stage in ordered_stages(workflow.pk) if stage.name_en == name)


def run_to_completion(acme):
    request, attachment = start_purchase_request(acme)
    for _ in STAGE_ORDER:
        approve_current_stage(attachment, request)
    assert attachment_state(attachment)[0] == AttachmentStatus.COMPLETED
    return request, attachment


# --------------------------------------------------------------------------- path safety


@pytest.mark.parametrize(
    "path",
    [
        "os.system",
        "subprocess.run",
        "builtins.eval",
        "builtins.exec",
        "shutil.rmtree",
        "django.core.management.call_command",
        "tests.support.action_handlers.record",  # a real handler, but its module is not allowed
    ],
)
def test_validate_function_path_refuses_paths_outside_the_allow_list(settings, path):
    settings.WORKFLOW_ACTION_ALLOWED_MODULES = []

    with pytest.raises(WorkflowValidationError) as raised:
        validate_function_path(path)

    assert (raised.value.code, raised.value.field) == (ErrorCode.VALIDATION_ERROR, "functionPath")
    assert raised.value.message == f"{path} {NOT_ALLOWED}"


@pytest.mark.parametrize(
    ("allowed", "path"),
    [
        (["os"], "os.system"),  # dangerous modules stay refused even when listed
        (["subprocess"], "subprocess.run"),
        (["builtins"], "builtins.eval"),
        ([ALLOWED], f"{ALLOWED}.run_shell"),  # os.system imported into an allowed module
        ([ALLOWED], f"{ALLOWED}._private"),
        ([ALLOWED], f"{ALLOWED}.CALLS"),
        (["tests.action"], f"{ALLOWED}.record"),  # a prefix must end at a module boundary
        ([""], f"{ALLOWED}.record"),  # an empty prefix allows nothing
    ],
)
def test_validate_function_path_refuses_tricks(settings, allowed, path):
    settings.WORKFLOW_ACTION_ALLOWED_MODULES = allowed

    with pytest.raises(WorkflowValidationError) as raised:
        validate_function_path(path)

    assert raised.value.message == f"{path} {NOT_ALLOWED}"


def test_validate_function_path_resolves_allowed_and_registered_handlers(settings):
    settings.WORKFLOW_ACTION_ALLOWED_MODULES = [ALLOWED]
    assert validate_function_path(RECORD) is action_handlers.record
    assert validate_function_path("tests.support.action_handlers.fail") is action_handlers.fail

    settings.WORKFLOW_ACTION_ALLOWED_MODULES = []
    assert validate_function_path("registered.outside.allow_list") is action_handlers.registered
    assert "backend.workflows.notifications.send_workflow_notification" in registered_actions()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "A function path is required."),
        (
            "record",
            "The function path must be a dotted Python path such as 'myapp.actions.notify'.",
        ),
        (
            "os.system; rm -rf /",
            "The function path must be a dotted Python path such as 'myapp.actions.notify'.",
        ),
        (f"{ALLOWED}.missing", f"{ALLOWED} has no function missing."),
        (
            f"{ALLOWED}.wrong_signature",
            f"{ALLOWED}.wrong_signature must accept (context, parameters) or "
            "(workflow_attachment, action_parameters, **context).",
        ),
        (
            "tests.action_handlers_missing.record",
            "Module tests.action_handlers_missing cannot be imported.",
        ),
    ],
)
def test_validate_function_path_explains_bad_paths(settings, path, message):
    settings.WORKFLOW_ACTION_ALLOWED_MODULES = [ALLOWED, "tests.action_handlers_missing"]

    with pytest.raises(WorkflowValidationError) as raised:
        validate_function_path(path)

    assert raised.value.message == message


# --------------------------------------------------------------------------- model and services


def test_saving_an_action_with_a_dangerous_path_is_refused_on_every_path(acme, calls):
    before = database_state()

    # Python: the service and the model's save()
    with pytest.raises(WorkflowValidationError) as raised:
        add_action(acme.workflow, ActionType.AFTER_APPROVE, "os.system")
    assert raised.value.message == f"os.system {NOT_ALLOWED}"
    with pytest.raises(WorkflowValidationError):
        WorkflowAction.objects.create(
            workflow=acme.workflow, action_type=ActionType.AFTER_APPROVE, function_path="os.system"
        )
    # Forms and the admin: full_clean()
    action = WorkflowAction(
        workflow=acme.workflow, action_type=ActionType.AFTER_APPROVE, function_path="builtins.eval"
    )
    with pytest.raises(ValidationError) as invalid:
        action.full_clean()
    assert invalid.value.message_dict == {"function_path": [f"builtins.eval {NOT_ALLOWED}"]}

    assert database_state() == before


def test_an_action_needs_exactly_one_scope(acme, calls):
    pipeline = acme.workflow.pipelines.first()

    with pytest.raises(WorkflowValidationError) as raised:
        create_workflow_action(
            workflow=acme.workflow,
            pipeline=pipeline,
            action_type=ActionType.AFTER_APPROVE,
            function_path=RECORD,
        )
    assert (raised.value.field, raised.value.message) == (
        "scope",
        "Give exactly one scope for the action: a workflow, a pipeline or a stage.",
    )
    with pytest.raises(ValidationError) as invalid:
        WorkflowAction(action_type=ActionType.AFTER_APPROVE, function_path=RECORD).full_clean()
    assert invalid.value.message_dict["__all__"] == [
        "An action needs exactly one scope: a workflow, a pipeline or a stage."
    ]
    # The database refuses it too (bulk_create skips save() and clean()).
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkflowAction.objects.bulk_create(
            [
                WorkflowAction(
                    workflow=acme.workflow,
                    pipeline=pipeline,
                    action_type=ActionType.AFTER_APPROVE,
                    function_path=RECORD,
                )
            ]
        )
    assert WorkflowAction.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"action_type": "after_lunch"}, "actionType", "Unknown action type 'after_lunch'"),
        (
            {"parameters": ["not", "an", "object"]},
            "parameters",
            "Parameters must be a JSON object.",
        ),
        (
            {"failure_policy": "raise"},
            "failurePolicy",
            "Unknown failure policy 'raise'; use continue or stop.",
        ),
        ({"order": -1}, "order", "order must be a whole number from 0 to 100000."),
    ],
)
def test_create_workflow_action_validates_every_field(acme, calls, fields, field, message):
    before = database_state()
    arguments = {"action_type": ActionType.AFTER_APPROVE, "function_path": RECORD, **fields}

    with pytest.raises(WorkflowValidationError) as raised:
        create_workflow_action(workflow=acme.workflow, **arguments)

    assert raised.value.field == field
    assert raised.value.message.startswith(message)
    assert database_state() == before


def test_create_update_and_delete_workflow_action(acme, calls):
    stage = stage_of(acme.workflow, "Budget Approval")

    first = add_action(stage, ActionType.AFTER_APPROVE, parameters={"a": 1})
    second = add_action(stage, ActionType.AFTER_APPROVE, RECORD_OTHER)
    assert (first.order, second.order, first.scope_level) == (1, 2, "stage")

    update_workflow_action(action=first, order=5, is_active=False, failure_policy="stop")
    first.refresh_from_db()
    assert (first.order, first.is_active, first.failure_policy) == (5, False, "stop")
    with pytest.raises(WorkflowValidationError):
        update_workflow_action(action=first, function_path="subprocess.run")
    first.refresh_from_db()
    assert first.function_path == RECORD

    delete_workflow_action(action=second)
    assert list(WorkflowAction.objects.values_list("pk", flat=True)) == [first.pk]


def test_actions_of_a_running_copy_cannot_be_edited(acme, calls):
    add_action(acme.workflow, ActionType.AFTER_APPROVE)
    _, attachment = start_purchase_request(acme)
    copy = WorkflowAction.objects.get(workflow=attachment.workflow)

    with pytest.raises(InvalidStateError):
        update_workflow_action(action=copy, order=3)
    with pytest.raises(InvalidStateError):
        delete_workflow_action(action=copy)
    with pytest.raises(InvalidStateError):
        add_action(attachment.workflow, ActionType.AFTER_REJECT)


# --------------------------------------------------------------------------- cloning


def test_attaching_clones_the_actions_of_every_level(acme, calls):
    template = acme.workflow
    add_action(template, ActionType.ON_WORKFLOW_COMPLETE, parameters={"level": "workflow"})
    add_action(template.pipelines.first(), ActionType.AFTER_MOVE_STAGE, failure_policy="stop")
    add_action(stage_of(template, "Budget Approval"), ActionType.AFTER_APPROVE, is_active=False)

    _, attachment = start_purchase_request(acme)

    copy = attachment.workflow
    assert copy.is_hidden and copy.cloned_from_id == template.pk
    copied = WorkflowAction.objects.filter(
        Q(workflow=copy) | Q(pipeline__workflow=copy) | Q(stage__pipeline__workflow=copy)
    ).select_related("workflow", "pipeline", "stage__pipeline")
    assert WorkflowAction.objects.count() == 6
    assert sorted(
        (
            a.scope_level,
            (a.workflow or a.pipeline or a.stage).name_en,
            a.action_type,
            a.parameters,
            a.is_active,
            a.failure_policy,
        )
        for a in copied
    ) == [
        ("pipeline", "Finance Review", "after_move_stage", {}, True, "stop"),
        ("stage", "Budget Approval", "after_approve", {}, False, "continue"),
        (
            "workflow",
            "Purchase Request Approval (Copy)",
            "on_workflow_complete",
            {"level": "workflow"},
            True,
            "continue",
        ),
    ]
    assert {a.workflow_id for a in copied if a.workflow_id} == {copy.pk}
    assert {a.pipeline.workflow_id for a in copied if a.pipeline_id} == {copy.pk}
    assert {a.stage.pipeline.workflow_id for a in copied if a.stage_id} == {copy.pk}


def test_cloning_actions_costs_the_same_queries_for_one_or_many(acme, calls):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def attach_count():
        request = make_purchase_request(acme)
        with CaptureQueriesContext(connection) as captured:
            attach_workflow_to_object(
                obj=request, workflow=acme.workflow, user=acme.user("requester")
            )
        return len(captured.captured_queries)

    add_action(acme.workflow, ActionType.AFTER_APPROVE)
    attach_count()  # warm the ContentType caches
    one = attach_count()
    for stage in ordered_stages(acme.workflow.pk):
        add_action(stage, ActionType.AFTER_APPROVE)
        add_action(stage.pipeline, ActionType.AFTER_REJECT)
    many = attach_count()

    assert WorkflowAction.objects.filter(workflow__is_hidden=False).count() == 1
    assert many == one


def test_no_action_rows_are_created_for_templates_or_copies_by_default(acme, settings):
    settings.WORKFLOW_AUTO_CREATE_ACTIONS = True

    start_purchase_request(acme)

    assert WorkflowAction.objects.count() == 0


# --------------------------------------------------------------------------- exactly once, in order


def test_each_action_runs_exactly_once_per_event_in_the_documented_order(acme, calls, committed):
    # Regression: the seed runs every stored action twice per event (two call conventions).
    for action_type in ActionType.values:
        add_action(acme.workflow, action_type)

    with committed():
        run_to_completion(acme)

    assert summary() == [
        ("record", "on_workflow_start", "Initial Review"),
        ("record", "after_approve", "Initial Review"),
        ("record", "after_move_stage", "Budget Approval"),
        ("record", "after_approve", "Budget Approval"),
        ("record", "after_move_stage", "Final Finance Sign-off"),
        ("record", "after_approve", "Final Finance Sign-off"),
        ("record", "after_move_pipeline", "Executive Approval"),
        ("record", "after_move_stage", "Executive Approval"),
        # the first executive's share leaves the consensus stage open: no after_approve
        ("record", "after_approve", "Executive Approval"),
        ("record", "on_workflow_complete", "Executive Approval"),
    ]
    assert all(parameters == {} for *_, parameters in CALLS)


def test_completion_actions_run_once_on_a_cloned_workflow(acme, calls, committed):
    # Regression: the seed deletes a clone's actions when it completes, before firing them.
    add_action(acme.workflow, ActionType.ON_WORKFLOW_COMPLETE, parameters={"note": "done"})

    with committed():
        request, attachment = run_to_completion(acme)

    [(name, action_type, context, parameters)] = CALLS
    assert (name, action_type, parameters) == ("record", "on_workflow_complete", {"note": "done"})
    assert context.workflow.is_hidden and context.workflow.cloned_from_id == acme.workflow.pk
    assert context.attachment.pk == attachment.pk
    assert context.attachment.status == AttachmentStatus.COMPLETED
    assert context.obj == request and context["object"] == request
    assert context.event.event_type == EventType.COMPLETED
    assert context.user == acme.user("executive2")  # the second share completed the stage
    assert WorkflowAction.objects.filter(workflow=attachment.workflow).count() == 1


def test_reject_actions_run_once(acme, calls, committed):
    # Regression: the seed fires AFTER_REJECT three times per rejection.
    add_action(acme.workflow, ActionType.AFTER_REJECT, parameters={"n": 1})
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")

    with committed():
        reject_stage(obj=request, user=acme.user("budget_manager1"), reason="Over budget")

    [(name, action_type, context, parameters)] = CALLS
    assert (name, action_type, parameters) == ("record", "after_reject", {"n": 1})
    assert (context.stage.name_en, context.reason, context.user) == (
        "Budget Approval",
        "Over budget",
        acme.user("budget_manager1"),
    )
    assert event_types(attachment).count(EventType.REJECTED) == 1


def test_context_of_delegation_and_resubmission(acme, calls, committed):
    add_action(acme.workflow, ActionType.AFTER_DELEGATE)
    add_action(acme.workflow, ActionType.AFTER_RESUBMISSION)
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    manager, other = acme.user("budget_manager1"), acme.user("budget_manager2")
    first_stage = ordered_stages(attachment.workflow_id)[0]

    with committed():
        delegate_stage(obj=request, user=manager, to_user=acme.user("cfo"), reason="Away")
        request_resubmission(obj=request, user=other, stage=first_stage.pk, reason="Add a quote")

    delegated, resubmitted = (entry[2] for entry in CALLS)
    assert (delegated.action_type, delegated.delegate, delegated.user, delegated.reason) == (
        "after_delegate",
        acme.user("cfo"),
        manager,
        "Away",
    )
    assert delegated.stage.name_en == "Budget Approval"
    assert (resubmitted.action_type, resubmitted.reason) == ("after_resubmission", "Add a quote")
    assert (
        resubmitted.from_stage.name_en,
        resubmitted.to_stage.name_en,
        resubmitted.stage.name_en,
    ) == (
        "Budget Approval",
        "Initial Review",
        "Initial Review",
    )
    assert resubmitted.get("delegate") is None and resubmitted.get("no_such_key", 7) == 7


def test_actions_run_only_after_commit(acme, calls, django_capture_on_commit_callbacks):
    add_action(acme.workflow, ActionType.ON_WORKFLOW_START)
    add_action(acme.workflow, ActionType.AFTER_APPROVE)

    # Rolled back: the listener never sees the transition.
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError, match="roll back"),
        transaction.atomic(),
    ):
        start_purchase_request(acme)
        raise RuntimeError("roll back")
    assert CALLS == []

    # Not yet committed: nothing ran; on commit, each action once.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        request, attachment = start_purchase_request(acme)
        approve_current_stage(attachment, request)
        assert CALLS == []
    for callback in callbacks:
        callback()
    assert summary() == [
        ("record", "on_workflow_start", "Initial Review"),
        ("record", "after_approve", "Initial Review"),
    ]


# --------------------------------------------------------------------------- inheritance


def test_the_most_specific_level_with_actions_wins(acme, calls, committed):
    template = acme.workflow
    finance = template.pipelines.get(name_en="Finance Review")
    add_action(template, ActionType.AFTER_APPROVE, parameters={"level": "workflow"})
    add_action(finance, ActionType.AFTER_APPROVE, parameters={"level": "pipeline"})
    add_action(
        stage_of(template, "Budget Approval"), ActionType.AFTER_APPROVE, RECORD_OTHER, order=2
    )
    add_action(stage_of(template, "Budget Approval"), ActionType.AFTER_APPROVE, RECORD, order=1)
    # An inactive stage action does not hide the pipeline's.
    add_action(stage_of(template, "Initial Review"), ActionType.AFTER_APPROVE, is_active=False)

    with committed():
        run_to_completion(acme)

    assert [
        (name, context.stage.name_en, parameters.get("level"))
        for name, _, context, parameters in CALLS
    ] == [
        ("record", "Initial Review", "pipeline"),
        ("record", "Budget Approval", None),  # the stage's two actions, in order
        ("record_other", "Budget Approval", None),
        ("record", "Final Finance Sign-off", "pipeline"),
        ("record", "Executive Approval", "workflow"),  # no pipeline or stage actions there
    ]


def test_defaults_from_settings_run_when_no_level_has_actions(acme, calls, settings, committed):
    settings.WORKFLOW_ACTIONS_CONFIG = {
        "demo.Ticket": [{"action_type": "after_approve", "function_path": RECORD_OTHER}],
        "default": [
            {"action_type": "after_approve", "function_path": RECORD, "parameters": {"d": 1}},
            {"action_type": "after_reject", "function_path": RECORD, "is_active": False},
        ],
    }
    add_action(stage_of(acme.workflow, "Budget Approval"), ActionType.AFTER_APPROVE, RECORD_OTHER)
    request, attachment = start_purchase_request(acme)

    with committed():
        approve_current_stage(attachment, request)  # Initial Review: the defaults
        approve_current_stage(attachment, request)  # Budget Approval: its (copied) stage action
        reject_stage(obj=request, user=acme.user("cfo"), reason="No")  # an inactive default

    assert [(name, parameters) for name, _, _, parameters in CALLS] == [
        ("record", {"d": 1}),
        ("record_other", {}),
    ]


def test_stage_actions_added_after_attaching_do_not_reach_running_copies(acme, calls, committed):
    request, attachment = start_purchase_request(acme)
    add_action(acme.workflow, ActionType.AFTER_APPROVE)

    with committed():
        approve_current_stage(attachment, request)

    assert CALLS == []


# --------------------------------------------------------------------------- failures


def test_a_failing_action_is_recorded_and_the_next_one_still_runs(acme, calls, committed):
    failing = add_action(
        acme.workflow, ActionType.AFTER_APPROVE, FAIL, parameters={"message": "boom"}
    )
    add_action(acme.workflow, ActionType.AFTER_APPROVE, RECORD)
    request, attachment = start_purchase_request(acme)

    with committed():
        approve_current_stage(attachment, request)

    assert [name for name, *_ in CALLS] == ["fail", "record"]
    assert attachment_state(attachment) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Budget Approval",
    )
    failure = WorkflowEvent.objects.get(attachment=attachment, event_type=EventType.ACTION_FAILED)
    approved = WorkflowEvent.objects.get(attachment=attachment, event_type=EventType.APPROVED)
    copied_id = WorkflowAction.objects.get(workflow=attachment.workflow, function_path=FAIL).pk
    assert copied_id != failing.pk
    assert failure.details == {
        "action_id": copied_id,
        "function_path": FAIL,
        "action_type": "after_approve",
        "level": "workflow",
        "error": "RuntimeError: boom",
        "event_id": approved.pk,
    }
    assert failure.from_stage.name_en == "Initial Review"


def test_failure_policy_stop_skips_the_later_actions_of_that_event(acme, calls, committed):
    add_action(acme.workflow, ActionType.AFTER_APPROVE, FAIL, failure_policy="stop")
    add_action(acme.workflow, ActionType.AFTER_APPROVE, RECORD)
    add_action(acme.workflow, ActionType.AFTER_MOVE_STAGE, RECORD_OTHER)
    request, attachment = start_purchase_request(acme)

    with committed():
        approve_current_stage(attachment, request)

    # The stage-move actions belong to another event and still run.
    assert [(name, action_type) for name, action_type, *_ in CALLS] == [
        ("fail", "after_approve"),
        ("record_other", "after_move_stage"),
    ]
    failure = WorkflowEvent.objects.get(attachment=attachment, event_type=EventType.ACTION_FAILED)
    skipped_id = WorkflowAction.objects.get(workflow=attachment.workflow, function_path=RECORD).pk
    assert failure.details["skipped"] == [{"action_id": skipped_id, "function_path": RECORD}]


def test_a_failing_action_does_not_keep_its_writes(acme, calls, committed):
    add_action(acme.workflow, ActionType.AFTER_APPROVE, f"{ALLOWED}.write_then_fail")
    request, attachment = start_purchase_request(acme)

    with committed():
        approve_current_stage(attachment, request)

    assert WorkflowAttachment.objects.get(pk=attachment.pk).metadata == {}
    assert (
        WorkflowEvent.objects.get(
            attachment=attachment, event_type=EventType.ACTION_FAILED
        ).details["error"]
        == "RuntimeError: failed after writing"
    )


def test_the_path_is_checked_again_before_running(acme, calls, settings, committed):
    add_action(acme.workflow, ActionType.AFTER_APPROVE)
    request, attachment = start_purchase_request(acme)
    # A row written around the model (raw SQL, a migration) or a module removed from the list.
    WorkflowAction.objects.filter(workflow=attachment.workflow).update(function_path="os.system")

    with committed():
        approve_current_stage(attachment, request)

    failure = WorkflowEvent.objects.get(attachment=attachment, event_type=EventType.ACTION_FAILED)
    assert failure.details["error"] == f"WorkflowValidationError: os.system {NOT_ALLOWED}"
    assert attachment_state(attachment)[2] == "Budget Approval"


def test_an_action_of_a_module_removed_from_the_allow_list_does_not_run(
    acme, calls, settings, committed
):
    add_action(acme.workflow, ActionType.AFTER_APPROVE)
    request, attachment = start_purchase_request(acme)
    settings.WORKFLOW_ACTION_ALLOWED_MODULES = []

    with committed():
        approve_current_stage(attachment, request)

    assert CALLS == []
    assert event_types(attachment)[-1] == EventType.ACTION_FAILED


def test_a_consensus_share_runs_no_approve_actions(acme, calls, committed):
    add_action(acme.workflow, ActionType.AFTER_APPROVE)
    request, attachment = start_purchase_request(acme, at_stage="Executive Approval")
    first, second = current_approvers(attachment)

    from backend.workflows.services import approve_stage

    with committed():
        approve_stage(obj=request, user=first)
    assert CALLS == []

    with committed():
        approve_stage(obj=request, user=second)
    assert summary() == [("record", "after_approve", "Executive Approval")]


def test_context_is_a_documented_dataclass():
    fields = set(ActionContext.__dataclass_fields__) - {"_objects"}
    assert fields == {
        "action_type",
        "event",
        "attachment",
        "stage",
        "pipeline",
        "user",
        "reason",
        "from_stage",
        "to_stage",
        "from_pipeline",
        "to_pipeline",
        "delegate",
        "form_data",
    }
    assert {"obj", "object", "workflow"} <= set(dir(ActionContext))


def test_a_system_check_refuses_unsafe_or_unknown_configured_defaults(settings):
    from backend.workflows.actions import check_configured_actions

    settings.WORKFLOW_ACTION_ALLOWED_MODULES = [ALLOWED]
    settings.WORKFLOW_ACTIONS_CONFIG = {
        "default": [
            {"action_type": "after_approve", "function_path": RECORD},
            {"action_type": "after_reject", "function_path": "os.system"},
            {"action_type": "after_lunch", "function_path": RECORD},
        ]
    }

    messages = check_configured_actions()

    assert [(message.id, message.msg) for message in messages] == [
        ("workflows.E002", f"WORKFLOW_ACTIONS_CONFIG['default'][1]: os.system {NOT_ALLOWED}"),
        ("workflows.E001", "WORKFLOW_ACTIONS_CONFIG['default'][2] needs a known action_type."),
    ]
    settings.WORKFLOW_ACTIONS_CONFIG = [{"action_type": "after_approve", "function_path": RECORD}]
    assert check_configured_actions() == []
