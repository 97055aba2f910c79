"""Stored workflow actions: a safe registry, inheritance, and exactly-once dispatch after commit.

A handler is a plain function in one of two conventions, read from its signature once, when
the action is saved (a signature that fits neither is refused then):

- ``handler(context, parameters)``: ``context`` is an :class:`ActionContext`, ``parameters`` a
  copy of the action's JSON parameters;
- ``handler(workflow_attachment, action_parameters, **context)``, the seed's "custom action
  handler": the attachment, the parameters, and the context as keyword arguments (see
  :func:`seed_context`; only the keywords it names are passed when it takes no ``**context``).

The return value is ignored; an exception marks the action as failed.

Safety. A ``function_path`` is only ever imported and called when it names a function that was
registered with :func:`workflow_action`, or a module-level function of a module listed (or nested)
in ``settings.WORKFLOW_ACTION_ALLOWED_MODULES``. Nothing else is imported: ``os.system``,
``subprocess.run``, ``builtins.eval`` or a path outside the list are refused, when the action is
saved and again right before it runs.

Dispatch. :func:`run_actions_for_events` is an event listener (registered in
``WorkflowsConfig.ready``), so actions run only after the transition has committed, once per
committed event. Committed events map to action types:

============================  =======================  ==========================================
event                         action type              ``context.stage`` / ``context.pipeline``
============================  =======================  ==========================================
started                       on_workflow_start        the first stage
approved (stage completed)    after_approve            the stage just approved
pipeline_moved                after_move_pipeline      the new stage (first of the new pipeline)
stage_moved                   after_move_stage         the new stage
completed                     on_workflow_complete     the last stage
rejected                      after_reject             the rejected stage
resubmission_requested        after_resubmission       the stage the workflow was sent back to
delegated                     after_delegate           the current stage
============================  =======================  ==========================================

``after_approve`` follows the seed's "final approve" hook: it runs for the approval that
completed the stage (the same commit also holds ``stage_moved`` or ``completed``), not for each
share of a consensus or quorum stage. One approval that moves on therefore runs, in this order,
``after_approve``, ``after_move_pipeline`` (when the pipeline changed), ``after_move_stage``, or
``after_approve`` then ``on_workflow_complete``; the next stage's approval steps are already open.

Inheritance. For each event, the active actions of its type at the most specific level that has
any run, in ``order``: the context stage, else its pipeline, else the workflow (the attachment's
running copy), else the defaults. Defaults live in code and settings, never in rows: the entries
of ``WORKFLOW_ACTIONS_CONFIG`` for that type, then the default e-mail action of that type when
``WORKFLOW_AUTO_CREATE_ACTIONS`` is on (the default).

Failure. Each action runs in its own savepoint; an exception is logged, its writes are rolled
back and an ``action_failed`` audit event records the action id, path and error. The workflow
state, committed already, stands. With ``failure_policy="stop"`` the later actions of the same
event are skipped (listed in the audit event); with ``"continue"`` they run.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core import checks
from django.db import transaction
from django.db.models import Exists, Q

from backend.workflows import transition_state
from backend.workflows.action_registry import (  # noqa: F401 (public names of this module)
    MAX_PATH_LENGTH,
    REFUSED_MODULES,
    ActionHandler,
    handler_convention_of,
    is_allowed_module,
    registered_actions,
    unregister_action,
    validate_function_path,
    workflow_action,
)
from backend.workflows.constants import (
    ActionType,
    AttachmentStatus,
    EventType,
    FailurePolicy,
    HandlerConvention,
)
from backend.workflows.engine_settings import lookup_by_label, workflow_setting
from backend.workflows.exceptions import WorkflowValidationError
from backend.workflows.models import (
    Pipeline,
    Stage,
    Workflow,
    WorkflowAction,
    WorkflowAttachment,
    WorkflowEvent,
)

logger = logging.getLogger(__name__)

# The registry and the path checks (imported above) live in action_registry: the models
# validate a function path with them on save.


@checks.register("workflows")
def check_configured_actions(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """System check: every ``WORKFLOW_ACTIONS_CONFIG`` entry names a known type and a safe path."""
    config = workflow_setting("WORKFLOW_ACTIONS_CONFIG") or []
    groups = config.items() if isinstance(config, dict) else [("", config)]
    messages: list[checks.CheckMessage] = []
    for key, entries in groups:
        for index, entry in enumerate(entries or []):
            where = f"WORKFLOW_ACTIONS_CONFIG{f'[{key!r}]' if key else ''}[{index}]"
            if not isinstance(entry, dict) or entry.get("action_type") not in ActionType.values:
                messages.append(
                    checks.Error(f"{where} needs a known action_type.", id="workflows.E001")
                )
                continue
            try:
                validate_function_path(entry.get("function_path"))
            except WorkflowValidationError as error:
                messages.append(checks.Error(f"{where}: {error.message}", id="workflows.E002"))
    return messages


# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class ActionContext:
    """Everything a handler may need about the event that triggered it.

    Attributes: ``action_type``; ``event`` (the committed ``WorkflowEvent``); ``attachment``;
    ``obj`` (the business object, loaded on first use; also ``context.object``); ``workflow``
    (the attachment's running copy); ``stage`` and ``pipeline`` (see the module table);
    ``user`` (the actor); ``reason``; ``from_stage``, ``to_stage``, ``from_pipeline``,
    ``to_pipeline``; ``delegate`` (for delegation); ``form_data``. ``context["user"]`` and
    ``context.get("reason")`` work too, for handlers written for the seed's dict context.

    The seed's keys are there as well: ``current_stage`` / ``current_pipeline`` / ``status``
    (the attachment's, after the transition: in ``after_approve`` the current stage is
    already the next one), ``approved_stage`` (``after_approve`` only: the stage just
    approved, which is also ``stage``), ``workflow_attachment`` (= ``attachment``),
    ``delegate_user`` (= ``delegate``) and ``target_stage`` (``after_resubmission``: the stage
    sent back to).
    """

    action_type: str
    event: WorkflowEvent
    attachment: WorkflowAttachment
    stage: Stage | None
    pipeline: Pipeline | None
    user: Any
    reason: str
    from_stage: Stage | None
    to_stage: Stage | None
    from_pipeline: Pipeline | None
    to_pipeline: Pipeline | None
    delegate: Any
    form_data: dict[str, Any] | None
    _objects: _ObjectCache = field(repr=False, compare=False)

    @cached_property
    def obj(self) -> Any:
        return self._objects.target(self.attachment)

    @property
    def object(self) -> Any:
        return self.obj

    @property
    def workflow(self) -> Workflow:
        return self._objects.workflow(self.attachment)

    @property
    def workflow_attachment(self) -> WorkflowAttachment:
        return self.attachment

    @property
    def current_stage(self) -> Stage | None:
        return self.attachment.current_stage

    @property
    def current_pipeline(self) -> Pipeline | None:
        return self.attachment.current_pipeline

    @property
    def status(self) -> str:
        return self.attachment.status

    @property
    def approved_stage(self) -> Stage | None:
        return self.from_stage if self.action_type == ActionType.AFTER_APPROVE else None

    @property
    def delegate_user(self) -> Any:
        return self.delegate

    @property
    def target_stage(self) -> Stage | None:
        return self.to_stage if self.action_type == ActionType.AFTER_RESUBMISSION else None

    def __getitem__(self, key: str) -> Any:
        if key.startswith("_") or not hasattr(self, key):
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


class _ObjectCache:
    """Load the business object and the workflow once per batch of events."""

    def __init__(self) -> None:
        self._targets: dict[int, Any] = {}
        self._workflows: dict[int, Workflow] = {}

    def target(self, attachment: WorkflowAttachment) -> Any:
        if attachment.pk not in self._targets:
            self._targets[attachment.pk] = attachment.target
        return self._targets[attachment.pk]

    def workflow(self, attachment: WorkflowAttachment) -> Workflow:
        if attachment.pk not in self._workflows:
            self._workflows[attachment.pk] = attachment.workflow
        return self._workflows[attachment.pk]


SEED_CONTEXT_KEYS = (
    "attachment",
    "obj",
    "workflow",
    "current_stage",
    "current_pipeline",
    "status",
    "action_type",
    "user",
    "stage",
    "pipeline",
    "reason",
    "from_stage",
    "to_stage",
    "from_pipeline",
    "to_pipeline",
    "approved_stage",
    "delegate_user",
    "target_stage",
    "form_data",
    "event",
)


def seed_context(context: ActionContext) -> dict[str, Any]:
    """Return the keyword context of the seed's ``handler(workflow_attachment, action_parameters, **context)``."""
    return {key: getattr(context, key) for key in SEED_CONTEXT_KEYS}


def call_handler(
    handler: ActionHandler, convention: str, context: ActionContext, parameters: dict[str, Any]
) -> Any:
    """Call ``handler`` the way its convention says."""
    if convention != HandlerConvention.ATTACHMENT:
        return handler(context, parameters)
    keywords = seed_context(context)
    accepted = inspect.signature(handler).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        keywords = {key: value for key, value in keywords.items() if key in accepted}
    return handler(workflow_attachment=context.attachment, action_parameters=parameters, **keywords)


EVENT_ACTION_TYPES: dict[str, str] = {
    EventType.STARTED: ActionType.ON_WORKFLOW_START,
    EventType.APPROVED: ActionType.AFTER_APPROVE,
    EventType.PIPELINE_MOVED: ActionType.AFTER_MOVE_PIPELINE,
    EventType.STAGE_MOVED: ActionType.AFTER_MOVE_STAGE,
    EventType.COMPLETED: ActionType.ON_WORKFLOW_COMPLETE,
    EventType.REJECTED: ActionType.AFTER_REJECT,
    EventType.RESUBMISSION_REQUESTED: ActionType.AFTER_RESUBMISSION,
    EventType.DELEGATED: ActionType.AFTER_DELEGATE,
}
# Events whose context stage is where the workflow went (the others: where it was).
_FORWARD_EVENTS = {
    EventType.STARTED,
    EventType.PIPELINE_MOVED,
    EventType.STAGE_MOVED,
    EventType.RESUBMISSION_REQUESTED,
}


def build_context(
    event: WorkflowEvent, action_type: str, objects: _ObjectCache | None = None
) -> ActionContext:
    """Return the context handed to the handlers of ``action_type`` for ``event``."""
    forward = event.event_type in _FORWARD_EVENTS
    return ActionContext(
        action_type=action_type,
        event=event,
        attachment=event.attachment,
        stage=event.to_stage if forward else event.from_stage,
        pipeline=event.to_pipeline if forward else event.from_pipeline,
        user=event.actor,
        reason=event.reason,
        from_stage=event.from_stage,
        to_stage=event.to_stage,
        from_pipeline=event.from_pipeline,
        to_pipeline=event.to_pipeline,
        delegate=event.delegate,
        form_data=event.form_data,
        _objects=objects or _ObjectCache(),
    )


# --------------------------------------------------------------------------- inheritance


@dataclass(frozen=True)
class ResolvedAction:
    """One action to run: a stored row (``action_id`` set) or a default from code/settings."""

    function_path: str
    parameters: dict[str, Any]
    order: int = 0
    failure_policy: str = FailurePolicy.CONTINUE
    action_id: int | None = None
    level: str = "default"
    # Stored rows carry the convention read when they were saved; defaults are read when run.
    handler_convention: str | None = None


def _from_row(row: WorkflowAction) -> ResolvedAction:
    return ResolvedAction(
        function_path=row.function_path,
        parameters=row.parameters if isinstance(row.parameters, dict) else {},
        order=row.order,
        failure_policy=row.failure_policy,
        action_id=row.pk,
        level=row.scope_level,
        handler_convention=row.handler_convention,
    )


def _configured_defaults(action_type: str, model: Any) -> list[ResolvedAction]:
    config = workflow_setting("WORKFLOW_ACTIONS_CONFIG") or []
    if isinstance(config, dict):
        config = (
            lookup_by_label(config, model) if model is not None else config.get("default")
        ) or []
    entries = [
        entry
        for entry in config
        if entry.get("action_type") == action_type and entry.get("is_active", True)
    ]
    return [
        ResolvedAction(
            function_path=entry["function_path"],
            parameters=dict(entry.get("parameters") or {}),
            order=int(entry.get("order", 0)),
            failure_policy=entry.get("failure_policy", FailurePolicy.CONTINUE),
        )
        for entry in sorted(entries, key=lambda entry: int(entry.get("order", 0)))
    ]


def default_actions(action_type: str, model: Any = None) -> list[ResolvedAction]:
    """Return the defaults of ``action_type``: configured entries, then the default e-mail."""
    from backend.workflows.notifications import default_email_action

    actions = _configured_defaults(action_type, model)
    if workflow_setting("WORKFLOW_AUTO_CREATE_ACTIONS"):
        email = default_email_action(action_type)
        if email is not None:
            actions.append(email)
    return actions


def effective_actions(
    action_type: str,
    *,
    workflow_id: int,
    stage_id: int | None,
    pipeline_id: int | None,
    rows: Sequence[WorkflowAction],
    model: Any = None,
) -> list[ResolvedAction]:
    """Pick the actions of the most specific level that has active ones (rows already in order)."""
    rows = [row for row in rows if row.is_active and row.action_type == action_type]
    for level, scope_id in (
        ("stage", stage_id),
        ("pipeline", pipeline_id),
        ("workflow", workflow_id),
    ):
        if scope_id is None:
            continue
        chosen = [row for row in rows if getattr(row, f"{level}_id") == scope_id]
        if chosen:
            return [_from_row(row) for row in chosen]
    return default_actions(action_type, model)


def get_actions_for_event(context: ActionContext) -> list[ResolvedAction]:
    """Return the actions that run for one context (one query; used by tests and tools)."""
    rows = _load_rows(context.attachment.workflow_id, [context], {context.action_type})
    return effective_actions(
        context.action_type,
        workflow_id=context.attachment.workflow_id,
        stage_id=context.stage.pk if context.stage else None,
        pipeline_id=context.pipeline.pk if context.pipeline else None,
        rows=rows,
        model=ContentType.objects.get_for_id(context.attachment.content_type_id).model_class(),
    )


def action_rows_exist(workflow_id: Any) -> Exists:
    """Return SQL telling whether a workflow (a pk or an ``OuterRef``) has active stored actions.

    At any level: the workflow, one of its pipelines or one of its stages. A transition reads
    it with the row it locks, so its listeners skip reading the rows when there are none.
    """
    return Exists(
        WorkflowAction.objects.filter(
            Q(workflow_id=workflow_id)
            | Q(pipeline__workflow_id=workflow_id)
            | Q(stage__pipeline__workflow_id=workflow_id),
            is_active=True,
        )
    )


def _load_rows(
    workflow_id: int, contexts: Sequence[ActionContext], action_types: set[str]
) -> list[WorkflowAction]:
    stage_ids = {c.stage.pk for c in contexts if c.stage is not None}
    pipeline_ids = {c.pipeline.pk for c in contexts if c.pipeline is not None}
    scope = Q(workflow_id=workflow_id)
    if stage_ids:
        scope |= Q(stage_id__in=stage_ids)
    if pipeline_ids:
        scope |= Q(pipeline_id__in=pipeline_ids)
    return list(
        WorkflowAction.objects.filter(scope, is_active=True, action_type__in=action_types).order_by(
            "order", "id"
        )
    )


# --------------------------------------------------------------------------- dispatch


def triggered_action_types(batch: Sequence[WorkflowEvent]) -> list[tuple[str, WorkflowEvent]]:
    """Map the events of one committed transition to ``(action type, event)``, in order."""
    kinds = {event.event_type for event in batch}
    stage_finished = EventType.STAGE_MOVED in kinds or EventType.COMPLETED in kinds
    triggers = []
    for event in batch:
        action_type = EVENT_ACTION_TYPES.get(event.event_type)
        if action_type is None:
            continue
        if event.event_type == EventType.APPROVED and not stage_finished:
            continue  # one share of a stage that still waits for other approvers
        triggers.append((action_type, event))
    return triggers


def _record_failure(
    context: ActionContext, action: ResolvedAction, error: Exception, skipped: list[ResolvedAction]
) -> None:
    from backend.workflows.events import save_events

    details: dict[str, Any] = {
        "action_id": action.action_id,
        "function_path": action.function_path,
        "action_type": context.action_type,
        "level": action.level,
        "error": f"{type(error).__name__}: {error}"[:2000],
        "event_id": context.event.pk,
    }
    if skipped:
        details["skipped"] = [
            {"action_id": other.action_id, "function_path": other.function_path}
            for other in skipped
        ]
    try:
        save_events(
            [
                WorkflowEvent(
                    attachment=context.attachment,
                    company_id=context.attachment.company_id,
                    event_type=EventType.ACTION_FAILED,
                    actor=context.user,
                    from_stage=context.stage,
                    from_pipeline=context.pipeline,
                    details=details,
                )
            ]
        )
    except Exception:  # the audit row is best effort; the log line above already has the error
        logger.exception("Could not record the failure of workflow action %s", action.function_path)


# Handlers that raise only before they write anything, so a savepoint (BEGIN and COMMIT
# after commit) could never roll anything back: the e-mail handler checks its parameters,
# then sends each message on its own, catching and counting each failure.
NO_SAVEPOINT_PATHS = frozenset({"backend.workflows.notifications.send_workflow_notification"})


def run_actions(context: ActionContext, actions: Sequence[ResolvedAction]) -> int:
    """Run ``actions`` for one event in order; return how many succeeded."""
    succeeded = 0
    for index, action in enumerate(actions):
        try:
            handler = validate_function_path(action.function_path)
            convention = action.handler_convention or handler_convention_of(handler)
            if action.function_path in NO_SAVEPOINT_PATHS:
                call_handler(handler, convention, context, dict(action.parameters))
            else:
                with transaction.atomic():
                    call_handler(handler, convention, context, dict(action.parameters))
        except Exception as error:  # a handler must never break the others or the workflow
            logger.exception(
                "Workflow action %s (%s, id %s) failed on attachment %s",
                action.function_path,
                context.action_type,
                action.action_id,
                context.attachment.pk,
            )
            skipped = (
                list(actions[index + 1 :]) if action.failure_policy == FailurePolicy.STOP else []
            )
            _record_failure(context, action, error, skipped)
            if skipped:
                break
        else:
            succeeded += 1
    return succeeded


def _run_batch(batch: Sequence[WorkflowEvent]) -> None:
    triggers = triggered_action_types(batch)
    if not triggers:
        return
    attachment = batch[0].attachment
    objects = _ObjectCache()
    contexts = [build_context(event, action_type, objects) for action_type, event in triggers]
    state = transition_state.for_events(batch)
    if state is not None and state.has_action_rows is False:
        rows: list[WorkflowAction] = []  # the transition saw none: only the defaults run
    else:
        rows = _load_rows(attachment.workflow_id, contexts, {c.action_type for c in contexts})
    model = ContentType.objects.get_for_id(attachment.content_type_id).model_class()
    for context in contexts:
        actions = effective_actions(
            context.action_type,
            workflow_id=attachment.workflow_id,
            stage_id=context.stage.pk if context.stage else None,
            pipeline_id=context.pipeline.pk if context.pipeline else None,
            rows=rows,
            model=model,
        )
        run_actions(context, actions)


AUTO_CLEANUP_EVENTS = {
    EventType.COMPLETED: AttachmentStatus.COMPLETED,
    EventType.REJECTED: AttachmentStatus.REJECTED,
}


def _auto_cleanup(batch: Sequence[WorkflowEvent]) -> None:
    if not workflow_setting("WORKFLOW_AUTO_CLEANUP_COMPLETED"):
        return
    finished = [event for event in batch if event.event_type in AUTO_CLEANUP_EVENTS]
    if not finished:
        return
    from backend.workflows.cleanup import delete_finished_attachments

    try:
        delete_finished_attachments([event.attachment_id for event in finished])
    except Exception:
        logger.exception("Automatic cleanup of attachment %s failed", finished[0].attachment_id)


def run_actions_for_events(events: Sequence[WorkflowEvent]) -> None:
    """Event listener: run the actions of every committed event, exactly once, in order.

    Then, with ``WORKFLOW_AUTO_CLEANUP_COMPLETED``, delete attachments that just completed or
    were rejected (after their actions ran).
    """
    batches: dict[int, list[WorkflowEvent]] = {}
    for event in events:
        batches.setdefault(event.attachment_id, []).append(event)
    for batch in batches.values():
        try:
            _run_batch(batch)
        except Exception:  # loading the actions failed; nothing ran, the workflow state stands
            logger.exception(
                "Workflow actions of attachment %s could not run", batch[0].attachment_id
            )
        _auto_cleanup(batch)
