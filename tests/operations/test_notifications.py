"""E-mail notifications: default e-mail actions, recipients, languages, switches, after commit."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import transaction

from backend.workflows.constants import ActionType
from backend.workflows.notifications import (
    DEFAULT_EMAIL_ACTIONS,
    NOTIFICATION_PATH,
    render_subject,
    send_bulk_workflow_emails,
    send_email,
)
from backend.workflows.selectors import ordered_stages
from backend.workflows.services import (
    create_workflow_action,
    delegate_stage,
    reject_stage,
    request_resubmission,
)
from tests.support.action_handlers import ALLOWED, CALLS, SENT
from tests.support.purchase_steps import (
    STAGE_ORDER,
    approve_current_stage,
    current_approvers,
    start_purchase_request,
)

OBJECT = "Purchase Request: Laptops - $12500.00"
REQUESTER = "requester@acme.example"


@pytest.fixture(autouse=True)
def _clean_records():
    CALLS.clear()
    SENT.clear()
    yield
    CALLS.clear()
    SENT.clear()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def sent():
    """Return ``(recipients, subject)`` of every message in Django's in-memory outbox."""
    return [(message.to, message.subject) for message in mail.outbox]


def test_approving_a_stage_mails_the_creator_twice_after_commit(acme, committed):
    request, attachment = start_purchase_request(acme)

    with committed():
        approve_current_stage(attachment, request)

    assert sent() == [
        ([REQUESTER], f"Approved: {OBJECT} – Initial Review"),
        ([REQUESTER], f"Next stage: {OBJECT} – Budget Approval"),
    ]
    approved, moved = mail.outbox
    assert approved.from_email == "workflows@localhost"
    assert (
        'approved the stage "Initial Review" of "Purchase Request: Laptops - $12500.00"'
        in approved.body
    )
    assert '(workflow "Purchase Request Approval")' in approved.body  # no " (Copy)"
    assert approved.body.startswith("Hello Requester,")
    [(html, mimetype)] = approved.alternatives
    assert mimetype == "text/html" and '<html lang="en" dir="ltr">' in html
    assert "<strong>Initial Review</strong>" in html
    assert 'moved from the stage "Initial Review" to the stage "Budget Approval"' in moved.body


def test_a_full_run_sends_the_seed_default_emails_only(acme, committed):
    request, attachment = start_purchase_request(acme)

    with committed():
        for _ in STAGE_ORDER:
            approve_current_stage(attachment, request)

    # after_approve x4 (stages completed) + after_move_stage x3; nothing for start or completion
    assert [subject.split(":")[0] for _, subject in sent()] == [
        "Approved",
        "Next stage",
        "Approved",
        "Next stage",
        "Approved",
        "Next stage",
        "Approved",
    ]
    assert {tuple(to) for to, _ in sent()} == {(REQUESTER,)}


def test_rejection_mails_the_creator_once(acme, committed):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")

    with committed():
        reject_stage(obj=request, user=acme.user("budget_manager1"), reason="Over budget")

    assert sent() == [([REQUESTER], f"Rejected: {OBJECT}")]
    assert "Reason: Over budget" in mail.outbox[0].body


def test_resubmission_mails_the_creator_and_the_new_current_approver(acme, committed):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    first_stage = ordered_stages(attachment.workflow_id)[0]

    with committed():
        request_resubmission(
            obj=request,
            user=acme.user("budget_manager1"),
            stage=first_stage.pk,
            reason="Add a quote",
        )

    [reviewer] = current_approvers(attachment)  # round robin: one reviewer holds the step again
    assert sent() == [
        ([REQUESTER], f"Changes requested: {OBJECT}"),
        ([reviewer.email], f"Changes requested: {OBJECT}"),
    ]
    assert 'back to the stage "Initial Review"' in mail.outbox[1].body


def test_delegation_mails_the_delegate_and_the_creator(acme, committed):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")

    with committed():
        delegate_stage(
            obj=request, user=acme.user("budget_manager1"), to_user=acme.user("cfo"), reason="Away"
        )

    assert sent() == [
        (["cfo@acme.example"], f"Approval delegated: {OBJECT} – Budget Approval"),
        ([REQUESTER], f"Approval delegated: {OBJECT} – Budget Approval"),
    ]
    assert "to Chief Financial Officer." in mail.outbox[0].body


def test_a_recipient_named_twice_gets_one_message(acme, committed, settings):
    # the requester started the workflow: delegating to them needs self-approval allowed
    settings.DJANGO_WORKFLOW_ENGINE = {
        **settings.DJANGO_WORKFLOW_ENGINE,
        "ALLOW_SELF_APPROVAL": True,
    }
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")

    with committed():  # the delegate is the creator: delegated_to and creator are one address
        delegate_stage(
            obj=request, user=acme.user("budget_manager1"), to_user=acme.user("requester")
        )

    assert sent() == [([REQUESTER], f"Approval delegated: {OBJECT} – Budget Approval")]


def test_disabling_emails_keeps_the_other_actions(acme, settings, committed):
    settings.WORKFLOW_DISABLE_EMAILS = True
    settings.WORKFLOW_ACTION_ALLOWED_MODULES = [ALLOWED]
    settings.WORKFLOW_ACTIONS_CONFIG = [
        {"action_type": "after_approve", "function_path": f"{ALLOWED}.record"}
    ]
    request, attachment = start_purchase_request(acme)

    with committed():
        approve_current_stage(attachment, request)

    assert mail.outbox == []
    assert [(name, action_type) for name, action_type, *_ in CALLS] == [("record", "after_approve")]


def test_auto_create_actions_off_means_no_default_emails(acme, settings, committed):
    settings.WORKFLOW_AUTO_CREATE_ACTIONS = False
    request, attachment = start_purchase_request(acme)

    with committed():
        approve_current_stage(attachment, request)

    assert mail.outbox == []


def test_a_custom_send_email_function_gets_the_seed_signature(acme, settings, committed):
    settings.WORKFLOW_SEND_EMAIL_FUNCTION = "tests.support.action_handlers.send_email"
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")

    with committed():
        reject_stage(obj=request, user=acme.user("budget_manager1"), reason="Over budget")

    assert mail.outbox == []
    [message] = SENT
    assert (message["name"], message["email"], message["subject"]) == (
        "rejected",
        REQUESTER,
        f"Rejected: {OBJECT}",
    )
    assert message["user"] == acme.user("requester")
    assert {
        key: message["context"][key]
        for key in ("workflow_name", "stage_name", "object", "reason", "actor_name", "language")
    } == {
        "workflow_name": "Purchase Request Approval",
        "stage_name": "Budget Approval",
        "object": OBJECT,
        "reason": "Over budget",
        "actor_name": "Budget Manager 1",
        "language": "en",
    }


def test_no_email_leaves_before_commit_or_for_a_rolled_back_transition(
    acme, django_capture_on_commit_callbacks
):
    request, attachment = start_purchase_request(acme)

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError, match="roll back"),
        transaction.atomic(),
    ):
        approve_current_stage(attachment, request)
        raise RuntimeError("roll back")
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approve_current_stage(attachment, request)
        assert mail.outbox == []
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 2


# --------------------------------------------------------------------------- bulk sending


def test_send_bulk_workflow_emails_counts_sent_failed_and_skipped(acme, settings):
    user = acme.user("cfo")
    no_address = get_user_model().objects.create(username="no-address", email="")
    recipients = [
        user,
        user.pk,  # the same address again
        "boss@example.com",
        "BOSS@example.com",  # duplicates are case-insensitive
        no_address,
        999_999,  # no such user
        "broken@example.com",  # the sender raises
        "refused@example.com",  # the sender returns False
    ]
    settings.WORKFLOW_SEND_EMAIL_FUNCTION = "tests.support.action_handlers.failing_send_email"

    result = send_bulk_workflow_emails(
        name="approved", recipients=recipients, context={"object": OBJECT}
    )

    assert result == {"sent": 2, "failed": 2, "skipped": 4}


def test_send_bulk_workflow_emails_without_deduplication(acme):
    result = send_bulk_workflow_emails(
        name="approved",
        recipients=["boss@example.com", "boss@example.com"],
        context={"object": OBJECT, "stage_name": "Budget Approval"},
        deduplicate=False,
    )

    assert result == {"sent": 2, "failed": 0, "skipped": 0}
    assert sent() == [
        (["boss@example.com"], f"Approved: {OBJECT} – Budget Approval"),
        (["boss@example.com"], f"Approved: {OBJECT} – Budget Approval"),
    ]


def test_disabled_emails_are_all_skipped(acme, settings):
    settings.WORKFLOW_DISABLE_EMAILS = True

    result = send_bulk_workflow_emails(
        name="approved", recipients=["a@example.com", acme.user("cfo")], context={}
    )

    assert result == {"sent": 0, "failed": 0, "skipped": 2}
    assert mail.outbox == []


# --------------------------------------------------------------------------- languages


def test_a_recipient_with_an_arabic_language_gets_the_arabic_templates(acme):
    cfo = acme.user("cfo")
    cfo.language = "ar-EG"  # a user model field or attribute named ``language``

    result = send_bulk_workflow_emails(
        name="rejected",
        recipients=[cfo, "boss@example.com"],
        context={
            "object": OBJECT,
            "stage_name_ar": "موافقة الميزانية",
            "reason": "تجاوز الميزانية",
        },
    )

    assert result == {"sent": 2, "failed": 0, "skipped": 0}
    arabic, english = mail.outbox
    assert arabic.subject == f"تم الرفض: {OBJECT}"
    assert 'في المرحلة "موافقة الميزانية"' in arabic.body
    assert "السبب: تجاوز الميزانية" in arabic.body
    assert '<html lang="ar" dir="rtl">' in arabic.alternatives[0][0]
    assert english.subject == f"Rejected: {OBJECT}"


def test_a_stored_email_action_with_literal_id_and_starter_recipients_in_arabic(acme, committed):
    create_workflow_action(
        workflow=acme.workflow,
        action_type=ActionType.AFTER_REJECT,
        function_path=NOTIFICATION_PATH,
        parameters={
            "template": "rejected",
            "recipients": [
                "workflow_starter",
                "boss@example.com",
                acme.user("cfo").pk,
                "current_approver",
            ],
            "language": "ar",
        },
    )
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")

    with committed():
        reject_stage(obj=request, user=acme.user("budget_manager1"), reason="Over budget")

    # The stored action replaces the default (creator) one; a rejected flow has no current approver.
    assert sent() == [
        ([REQUESTER], f"تم الرفض: {OBJECT}"),
        (["boss@example.com"], f"تم الرفض: {OBJECT}"),
        (["cfo@acme.example"], f"تم الرفض: {OBJECT}"),
    ]
    assert 'في المرحلة "موافقة الميزانية"' in mail.outbox[0].body
    assert '(سير العمل "موافقة طلب الشراء")' in mail.outbox[0].body


@pytest.mark.parametrize("language", ["en", "ar"])
@pytest.mark.parametrize("template", [p["template"] for p in DEFAULT_EMAIL_ACTIONS.values()])
def test_every_default_template_exists_in_both_languages(template, language):
    context = {
        "language": language,
        "object": "PR-1",
        "recipient_name": "Sam",
        "stage_name": "Review",
        "stage_name_ar": "مراجعة",
        "reason": "x",
    }

    subject = render_subject(template, context)
    send_email(template, "sam@example.com", subject, context)

    [message] = mail.outbox
    assert "PR-1" in message.subject and "\n" not in message.subject
    assert "Sam" in message.body and "Sam" in message.alternatives[0][0]


def test_default_email_actions_follow_the_seed_table():
    assert {key: value["recipients"] for key, value in DEFAULT_EMAIL_ACTIONS.items()} == {
        ActionType.AFTER_APPROVE: ["creator"],
        ActionType.AFTER_REJECT: ["creator"],
        ActionType.AFTER_RESUBMISSION: ["creator", "current_approver"],
        ActionType.AFTER_DELEGATE: ["delegated_to", "creator"],
        ActionType.AFTER_MOVE_STAGE: ["creator"],
    }


def test_the_creator_not_yet_loaded_is_read_once_with_the_precompiled_user_statement(acme):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backend.workflows.notifications import _creator

    request, _ = start_purchase_request(acme)
    fresh = type(request).objects.get(pk=request.pk)  # the requester is not loaded yet
    with CaptureQueriesContext(connection) as captured:
        creator = _creator(fresh, ["created_by", "requester", "owner", "user"])
        again = fresh.requester  # cached: no second read
    assert len(captured.captured_queries) == 1
    assert "LIMIT" not in captured.captured_queries[0]["sql"]  # the precompiled read, not get()
    expected = get_user_model().objects.get(pk=acme.user("requester").pk)
    assert creator is again
    assert creator.pk == expected.pk
    assert {f.attname: getattr(creator, f.attname) for f in creator._meta.concrete_fields} == {
        f.attname: getattr(expected, f.attname) for f in expected._meta.concrete_fields
    }


def test_the_creator_of_an_object_without_a_user_field_is_none(acme):
    from backend.workflows.notifications import _creator

    request, _ = start_purchase_request(acme)
    assert _creator(request, ["title", "amount", "missing"]) is None
