"""E-mail notifications: default e-mail actions, recipient resolution, templates and sending.

Default e-mail actions (run when no stage, pipeline or workflow action of that type exists and
``WORKFLOW_AUTO_CREATE_ACTIONS`` is on, the default; they are code, not rows):

===================  ==================  ==================================
action type          template            recipients
===================  ==================  ==================================
after_approve        ``approved``        creator
after_reject         ``rejected``        creator
after_resubmission   ``resubmission``    creator, current_approver
after_delegate       ``delegated``       delegated_to, creator
after_move_stage     ``stage_moved``     creator
===================  ==================  ==================================

Recipients (the ``recipients`` parameter of :func:`send_workflow_notification`):
``"creator"`` (the first of the object's ``creator_field`` parameter or
``WORKFLOW_CREATOR_FIELDS``, default ``created_by``, ``requester``, ``owner``, ``user``),
``"current_approver"`` (every user holding a current approval step, read after commit, so after
a resubmission these are the approvers of the stage sent back to), ``"delegated_to"``,
``"workflow_starter"``, a literal address (``"boss@example.com"``), a user object or a user id.
Addresses are de-duplicated case-insensitively.

Templates: ``workflows/email/<language>/<name>_subject.txt``, ``<name>.txt`` and ``<name>.html``
for ``en`` and ``ar``. The language of a recipient is the ``language`` parameter of the action
when given, else the user's ``language`` attribute or ``profile.language`` when the project has
one (any value starting with ``ar`` means Arabic), else ``settings.LANGUAGE_CODE``.

Sending: each message goes through ``settings.WORKFLOW_SEND_EMAIL_FUNCTION`` when set (the
seed's signature ``send_email(name, email, subject, context, user=None)``; returning ``False``
or raising counts as failed), else :func:`send_email` (Django's mail backend, text + HTML).
``WORKFLOW_DISABLE_EMAILS`` switches e-mail off (every recipient is counted as skipped); other
actions still run. Actions run after commit, so no mail leaves for a rolled-back transition.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.core.mail import EmailMultiAlternatives
from django.db import DEFAULT_DB_ALIAS
from django.db.models import ForeignKey
from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.utils.module_loading import import_string

from backend.precompiled import PrecompiledQuery
from backend.workflows import transition_state
from backend.workflows.actions import ActionContext, ResolvedAction, workflow_action
from backend.workflows.constants import ActionType, FailurePolicy
from backend.workflows.engine_settings import workflow_setting
from backend.workflows.exceptions import NotFoundError, WorkflowValidationError

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "ar")
NOTIFICATION_PATH = "backend.workflows.notifications.send_workflow_notification"
# Defaults run after any configured default of the same type (WORKFLOW_ACTIONS_CONFIG).
DEFAULT_EMAIL_ORDER = 1000
DEFAULT_EMAIL_ACTIONS: dict[str, dict[str, Any]] = {
    ActionType.AFTER_APPROVE: {"template": "approved", "recipients": ["creator"]},
    ActionType.AFTER_REJECT: {"template": "rejected", "recipients": ["creator"]},
    ActionType.AFTER_RESUBMISSION: {
        "template": "resubmission",
        "recipients": ["creator", "current_approver"],
    },
    ActionType.AFTER_DELEGATE: {"template": "delegated", "recipients": ["delegated_to", "creator"]},
    ActionType.AFTER_MOVE_STAGE: {"template": "stage_moved", "recipients": ["creator"]},
}


def default_email_action(action_type: str) -> ResolvedAction | None:
    """Return the default e-mail action of ``action_type``, if it has one."""
    parameters = DEFAULT_EMAIL_ACTIONS.get(action_type)
    if parameters is None:
        return None
    return ResolvedAction(
        function_path=NOTIFICATION_PATH,
        parameters={**parameters, "recipients": list(parameters["recipients"])},
        order=DEFAULT_EMAIL_ORDER,
        failure_policy=FailurePolicy.CONTINUE,
    )


# --------------------------------------------------------------------------- stored e-mail actions

# A template is named, never a path: letters, digits and underscores, and its subject
# template must exist (``workflows/email/<LANGUAGE_CODE's language>/<name>_subject.txt``).
TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
RECIPIENT_TYPES = ("creator", "current_approver", "delegated_to", "workflow_starter")


def is_known_template(name: Any) -> bool:
    """Tell whether ``name`` names an e-mail template (a name, not a path)."""
    if not isinstance(name, str) or not TEMPLATE_NAME.fullmatch(name):
        return False
    try:
        get_template(f"workflows/email/{normalise_language(None)}/{name}_subject.txt")
    except TemplateDoesNotExist:
        return False
    return True


def _recipient_user_id(recipient: Any) -> int | None:
    if isinstance(recipient, int) and not isinstance(recipient, bool):
        return recipient
    if isinstance(recipient, str) and recipient.strip().isdigit():
        return int(recipient.strip())
    return None


def check_email_action_parameters(parameters: dict[str, Any], *, company_id: int | None) -> None:
    """Refuse stored e-mail parameters naming an unknown template or another company's users.

    Raise ``WorkflowValidationError`` (field ``parameters.template`` or
    ``parameters.recipients[i]``).
    """
    from backend.workflows.selectors import company_users

    template = parameters.get("template")
    if not is_known_template(template):
        raise WorkflowValidationError(
            f"Unknown e-mail template {template!r}; name one of the templates under "
            "workflows/email/ (e.g. approved), not a path.",
            field="parameters.template",
        )
    recipients = parameters.get("recipients", ["creator"])
    if not isinstance(recipients, list):
        raise WorkflowValidationError("recipients must be a list.", field="parameters.recipients")
    ids: dict[int, int] = {}
    for index, recipient in enumerate(recipients):
        user_id = _recipient_user_id(recipient)
        if user_id is not None:
            ids.setdefault(user_id, index)
        elif not isinstance(recipient, str) or not (
            recipient in RECIPIENT_TYPES or "@" in recipient
        ):
            raise WorkflowValidationError(
                f"Unknown recipient {recipient!r}; use {', '.join(RECIPIENT_TYPES)}, "
                "an e-mail address or a user id of this company.",
                field=f"parameters.recipients[{index}]",
            )
    if ids:
        members = set(
            company_users(company_id).filter(pk__in=list(ids)).values_list("pk", flat=True)
        )
        for user_id, index in ids.items():
            if user_id not in members:
                raise NotFoundError(
                    f"User {user_id} is not a user of this company.",
                    field=f"parameters.recipients[{index}]",
                )


# --------------------------------------------------------------------------- recipients


def _language_of(user: Any) -> str | None:
    value = getattr(user, "language", None) or getattr(
        getattr(user, "profile", None), "language", None
    )
    return value if isinstance(value, str) and value else None


def normalise_language(value: str | None) -> str:
    """Return ``ar`` for any Arabic language code, else ``en``."""
    code = (value or settings.LANGUAGE_CODE or "en").lower()
    return "ar" if code.startswith("ar") else "en"


# The creator's row, read by most e-mail actions: compiled once per database (and user model).
_user_statement = PrecompiledQuery(
    lambda pk: get_user_model()._base_manager.filter(pk=pk),
    variant=lambda: settings.AUTH_USER_MODEL,
)


def _load_user_relation(obj: Any, name: str) -> None:
    """Load ``obj.<name>``, a foreign key to the user model not loaded yet, precompiled.

    The same row the field's descriptor would read (by the user's primary key, from the one
    database). Anything else (another field, a missing row) is left to the descriptor.
    """
    try:
        field = obj._meta.get_field(name)
    except (AttributeError, FieldDoesNotExist):
        return
    if (
        not isinstance(field, ForeignKey)
        or field.related_model is not get_user_model()
        or not field.target_field.primary_key
        or field.is_cached(obj)
        or obj._state.db not in (None, DEFAULT_DB_ALIAS)
    ):
        return
    user_id = getattr(obj, field.attname)
    if user_id is None:
        return
    rows = _user_statement.fetch(pk=user_id)
    if len(rows) == 1:
        field.set_cached_value(obj, rows[0])


def _creator(obj: Any, field_names: Iterable[str]) -> Any:
    if obj is None:
        return None
    for name in field_names:
        _load_user_relation(obj, name)
        value = getattr(obj, name, None)
        if value is not None and hasattr(value, "email"):
            return value
    return None


def resolve_recipients(
    recipient_types: Iterable[Any],
    context: ActionContext | None = None,
    *,
    creator_field: str | None = None,
    workflow_attachment: Any = None,
    **seed_context: Any,
) -> list[Any]:
    """Turn recipient types into users and addresses for one action context (not de-duplicated).

    Also takes the seed's keyword form, from a ``(workflow_attachment, action_parameters,
    **context)`` handler: ``resolve_recipients(recipient_types=..., workflow_attachment=...,
    **context)``, reading ``obj`` and ``delegate_user`` from the keywords.
    """
    if context is None:
        attachment = workflow_attachment or seed_context.get("attachment")
        if attachment is None:
            raise TypeError("resolve_recipients() needs a context or workflow_attachment=.")
        event = seed_context.get("event")
        return _resolve(
            recipient_types,
            attachment=attachment,
            obj=lambda: seed_context.get("obj") or attachment.target,
            delegate=seed_context.get("delegate_user") or seed_context.get("delegate"),
            creator_field=creator_field,
            state=transition_state.for_events([event]) if event is not None else None,
        )
    action_context = context
    return _resolve(
        recipient_types,
        attachment=action_context.attachment,
        obj=lambda: action_context.obj,
        delegate=context.delegate,
        creator_field=creator_field,
        state=transition_state.for_events([context.event]),
    )


def _resolve(
    recipient_types: Iterable[Any],
    *,
    attachment: Any,
    obj: Callable[[], Any],
    delegate: Any,
    creator_field: str | None,
    state: transition_state.TransitionState | None = None,
) -> list[Any]:
    resolved: list[Any] = []
    User = get_user_model()
    for recipient in recipient_types:
        if isinstance(recipient, User) or (
            isinstance(recipient, int) and not isinstance(recipient, bool)
        ):
            resolved.append(recipient)
        elif not isinstance(recipient, str):
            logger.warning("Unknown workflow e-mail recipient %r", recipient)
        elif recipient == "creator":
            fields = (
                [creator_field] if creator_field else workflow_setting("WORKFLOW_CREATOR_FIELDS")
            )
            resolved.append(_creator(obj(), fields))
        elif recipient == "current_approver":
            # The current approvers as the transition committed them (read once per transition).
            steps = transition_state.open_steps_after(attachment, state)
            resolved.extend(step.assignee for step in steps if step.assignee is not None)
        elif recipient == "delegated_to":
            resolved.append(delegate)
        elif recipient == "workflow_starter":
            resolved.append(attachment.started_by)
        elif "@" in recipient:
            resolved.append(recipient.strip())
        elif recipient.isdigit():
            resolved.append(int(recipient))
        else:
            logger.warning("Unknown workflow e-mail recipient type %r", recipient)
    return [recipient for recipient in resolved if recipient is not None]


# --------------------------------------------------------------------------- context


def _names(prefix: str, item: Any) -> dict[str, str]:
    name_en = getattr(item, "name_en", "") or ""
    return {f"{prefix}_name": name_en, f"{prefix}_name_ar": getattr(item, "name_ar", "") or name_en}


def _workflow_names(workflow: Any) -> dict[str, str]:
    """Return the workflow's names, without the " (Copy)" suffix of an attachment's running copy."""
    names = _names("workflow", workflow)
    if getattr(workflow, "is_hidden", False):
        for key, suffix in (("workflow_name", " (Copy)"), ("workflow_name_ar", " (نسخة)")):
            names[key] = names[key].removesuffix(suffix)
    return names


def _display(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def get_workflow_email_context(context: ActionContext) -> dict[str, Any]:
    """Return the template context of an action context (plain values, safe to serialise)."""
    attachment = context.attachment
    return {
        "action_type": context.action_type,
        "attachment_id": attachment.pk,
        "status": attachment.status,
        **_workflow_names(context.workflow),
        **_names("stage", context.stage),
        **_names("pipeline", context.pipeline),
        **_names("from_stage", context.from_stage),
        **_names("to_stage", context.to_stage),
        "object": str(context.obj) if context.obj is not None else "",
        "object_id": attachment.object_id,
        "actor_name": _display(context.user),
        "delegate_name": _display(context.delegate),
        "reason": context.reason or "",
    }


# --------------------------------------------------------------------------- sending


def render_subject(name: str, context: dict[str, Any]) -> str:
    """Render the one-line subject of template ``name`` in ``context['language']``."""
    language = normalise_language(context.get("language"))
    text = render_to_string(f"workflows/email/{language}/{name}_subject.txt", context)
    return " ".join(text.split())


def send_email(
    name: str, email: str, subject: str, context: dict[str, Any], user: Any = None
) -> bool:
    """Send one message with the text and HTML templates of ``name`` (the default sender)."""
    language = normalise_language(context.get("language"))
    text = render_to_string(f"workflows/email/{language}/{name}.txt", context)
    html = render_to_string(f"workflows/email/{language}/{name}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=getattr(settings, "WORKFLOW_FROM_EMAIL", None) or settings.DEFAULT_FROM_EMAIL,
        to=[email],
    )
    message.attach_alternative(html, "text/html")
    return message.send() == 1


def _sender() -> Any:
    path = workflow_setting("WORKFLOW_SEND_EMAIL_FUNCTION")
    # A project setting, written by developers: unlike stored actions it is trusted code.
    return import_string(path) if path else send_email


def send_workflow_email(
    name: str,
    recipient: Any,
    context: dict[str, Any],
    *,
    subject: str | None = None,
    language: str | None = None,
) -> bool:
    """Send template ``name`` to one user or address; return whether it was sent."""
    result = send_bulk_workflow_emails(
        name=name, recipients=[recipient], context=context, subject=subject, language=language
    )
    return result["sent"] == 1


def send_bulk_workflow_emails(
    *,
    name: str,
    recipients: Iterable[Any],
    context: dict[str, Any],
    deduplicate: bool = True,
    subject: str | None = None,
    language: str | None = None,
) -> dict[str, int]:
    """Send template ``name`` to every recipient; return ``{"sent", "failed", "skipped"}``.

    Recipients are users, user ids or addresses. Skipped: unknown ids, users without an
    address, repeated addresses (when ``deduplicate``), and everything while
    ``WORKFLOW_DISABLE_EMAILS`` is on. A failure of one message never stops the others.
    """
    recipients = list(recipients)
    counts = {"sent": 0, "failed": 0, "skipped": 0}
    if workflow_setting("WORKFLOW_DISABLE_EMAILS"):
        counts["skipped"] = len(recipients)
        return counts
    User = get_user_model()
    ids = {r for r in recipients if isinstance(r, int) and not isinstance(r, bool)}
    users_by_id = User.objects.in_bulk(ids) if ids else {}
    sender = _sender()
    seen: set[str] = set()
    for recipient in recipients:
        is_id = isinstance(recipient, int) and not isinstance(recipient, bool)
        user = users_by_id.get(recipient) if is_id else recipient
        if isinstance(user, User):
            email = (user.email or "").strip()
        elif isinstance(user, str):
            email, user = user.strip(), None
        else:
            email = ""
        key = email.lower()
        if not email or (deduplicate and key in seen):
            counts["skipped"] += 1
            continue
        seen.add(key)
        message_context = {
            **context,
            "recipient_name": _display(user) if user is not None else email,
            "language": normalise_language(language or (_language_of(user) if user else None)),
        }
        try:
            message_subject = subject or render_subject(name, message_context)
            ok = sender(name, email, message_subject, message_context, user=user)
        except Exception:
            logger.exception("Workflow e-mail %r to %s failed", name, email)
            ok = False
        counts["sent" if ok is not False else "failed"] += 1
    return counts


def _within_company(recipients: list[Any], company_id: int | None) -> list[Any]:
    """Drop user ids of other companies (rows stored before they were checked, moved users)."""
    from backend.workflows.selectors import company_users

    ids = [r for r in recipients if isinstance(r, int) and not isinstance(r, bool)]
    if not ids:
        return recipients
    members = set(company_users(company_id).filter(pk__in=ids).values_list("pk", flat=True))
    foreign = [r for r in ids if r not in members]
    if foreign:
        logger.warning("Workflow e-mail: user ids %s are not of company %s", foreign, company_id)
    return [r for r in recipients if not (isinstance(r, int) and r in foreign)]


@workflow_action
def send_workflow_notification(
    context: ActionContext, parameters: dict[str, Any]
) -> dict[str, int]:
    """Send an e-mail for a workflow event (the handler of the default e-mail actions).

    Parameters: ``template`` (required), ``recipients`` (default ``["creator"]``), optional
    ``subject``, ``language``, ``creator_field`` and ``deduplicate`` (default true).
    """
    if workflow_setting("WORKFLOW_DISABLE_EMAILS"):
        return {"sent": 0, "failed": 0, "skipped": 0}
    template = parameters.get("template")
    if not isinstance(template, str) or not template:
        raise ValueError("The e-mail action needs a 'template' parameter.")
    if not is_known_template(template):
        raise ValueError(f"Unknown e-mail template {template!r}.")
    recipients = _within_company(
        resolve_recipients(
            parameters.get("recipients") or ["creator"],
            context,
            creator_field=parameters.get("creator_field"),
        ),
        context.attachment.company_id,
    )
    result = send_bulk_workflow_emails(
        name=template,
        recipients=recipients,
        context=get_workflow_email_context(context),
        deduplicate=parameters.get("deduplicate", True),
        subject=parameters.get("subject"),
        language=parameters.get("language"),
    )
    if result["failed"]:
        logger.warning("Workflow e-mail %r: %s", template, result)
    return result
