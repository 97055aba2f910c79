"""Out-of-office: during an absence, steps assigned to the user by name go to the substitute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from backend.workflows.constants import ErrorCode, EventType
from backend.workflows.exceptions import WorkflowError
from backend.workflows.models import OutOfOffice, WorkflowEvent
from backend.workflows.services import (
    approve_stage,
    clear_out_of_office,
    process_deadlines,
    set_out_of_office,
)
from tests.support.database_state import attachment_state
from tests.support.helpers import approvers_of
from tests.support.workflow_builders import (
    attached_request,
    role_approval,
    two_stage_workflow,
    user_approval,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def at(moment):
    return mock.patch("django.utils.timezone.now", return_value=moment)


def away(scenario, name, substitute, *, days=7):
    return set_out_of_office(
        user=scenario.user(name),
        substitute=scenario.user(substitute),
        starts_at=T0,
        ends_at=T0 + timedelta(days=days),
        reason="Holiday",
    )


def test_a_step_opened_during_the_absence_goes_to_the_substitute(acme):
    # given
    away(acme, "employee", "budget_manager1")

    # when
    with at(T0 + timedelta(days=1)):
        request, attachment = attached_request(
            acme, two_stage_workflow(acme, user_approval(acme.user("employee")))
        )

    # then
    assert approvers_of(attachment) == ["acme-budget_manager1"]
    started = WorkflowEvent.objects.get(attachment=attachment, event_type=EventType.STARTED)
    assert started.details == {
        "substitutions": [
            {"user": acme.user("employee").pk, "substitute": acme.user("budget_manager1").pk}
        ]
    }
    approve_stage(obj=request, user=acme.user("budget_manager1"))
    assert attachment_state(attachment)[2] == "After"


def test_an_absent_member_keeps_their_share_of_a_role_step(acme):
    # given: one of the two executives is away; the substitute is not an executive
    away(acme, "executive1", "budget_manager1")

    # when: a stage shared by the Executive role opens during the absence
    with at(T0 + timedelta(days=1)):
        request, attachment = attached_request(
            acme, two_stage_workflow(acme, role_approval(acme.roles["Executive"]))
        )

    # then: a role step is assigned to the role, not to the user by name: the members share
    # it as usual (the present one covers), and the substitute does not act for the role
    assert approvers_of(attachment) == ["acme-executive1", "acme-executive2"]
    started = WorkflowEvent.objects.get(attachment=attachment, event_type=EventType.STARTED)
    assert "substitutions" not in (started.details or {})
    approve_stage(obj=request, user=acme.user("executive2"))
    assert attachment_state(attachment)[2] == "After"


def test_outside_the_window_the_user_keeps_their_steps(acme):
    away(acme, "employee", "budget_manager1")
    for moment in (T0 - timedelta(seconds=1), T0 + timedelta(days=7)):
        with at(moment):
            _, attachment = attached_request(
                acme, two_stage_workflow(acme, user_approval(acme.user("employee")))
            )
        assert approvers_of(attachment) == ["acme-employee"]


def test_the_next_stage_records_the_substitution_on_its_event(acme):
    away(acme, "cfo", "employee")
    with at(T0 + timedelta(hours=1)):
        request, attachment = attached_request(
            acme, two_stage_workflow(acme, user_approval(acme.user("budget_manager1")))
        )
        approve_stage(obj=request, user=acme.user("budget_manager1"))
    assert approvers_of(attachment) == ["acme-employee"]
    moved = WorkflowEvent.objects.get(attachment=attachment, event_type=EventType.STAGE_MOVED)
    assert moved.details["substitutions"] == [
        {"user": acme.user("cfo").pk, "substitute": acme.user("employee").pk}
    ]


def test_an_escalation_to_an_absent_user_goes_to_the_substitute(acme):
    away(acme, "cfo", "budget_manager2")
    with at(T0):
        request, attachment = attached_request(
            acme,
            two_stage_workflow(
                acme,
                user_approval(
                    acme.user("employee"),
                    due_in="1h",
                    on_timeout={"action": "escalate", "user": acme.user("cfo").pk},
                ),
            ),
        )
    with at(T0 + timedelta(hours=1)):
        process_deadlines(now=T0 + timedelta(hours=1))
    assert approvers_of(attachment) == ["acme-budget_manager2"]


def test_clearing_the_absence_restores_assignment(acme):
    away(acme, "employee", "budget_manager1")
    assert clear_out_of_office(user=acme.user("employee")) is True
    assert clear_out_of_office(user=acme.user("employee")) is False
    with at(T0 + timedelta(days=1)):
        _, attachment = attached_request(
            acme, two_stage_workflow(acme, user_approval(acme.user("employee")))
        )
    assert approvers_of(attachment) == ["acme-employee"]


def test_bad_substitutes_and_windows_are_refused(acme, globex):
    cases = [
        (
            {"substitute": globex.user("cfo")},
            (ErrorCode.NOT_FOUND, "User not found.", "substituteId"),
        ),
        (
            {"substitute": acme.user("employee")},
            (ErrorCode.VALIDATION_ERROR, "You cannot be your own substitute.", "substituteId"),
        ),
        (
            {"ends_at": T0},
            (ErrorCode.VALIDATION_ERROR, "The absence must end after it starts.", "endsAt"),
        ),
        (
            {"ends_at": T0 + timedelta(days=400)},
            (ErrorCode.VALIDATION_ERROR, "An absence lasts at most 366 days.", "endsAt"),
        ),
    ]
    for override, expected in cases:
        arguments = {
            "user": acme.user("employee"),
            "substitute": acme.user("cfo"),
            "starts_at": T0,
            "ends_at": T0 + timedelta(days=1),
            **override,
        }
        with pytest.raises(WorkflowError) as raised:
            set_out_of_office(**arguments)
        assert (raised.value.code, raised.value.message, raised.value.field) == expected
    inactive = acme.user("budget_manager2")
    inactive.is_active = False
    inactive.save()
    with pytest.raises(WorkflowError) as raised:
        set_out_of_office(
            user=acme.user("employee"), substitute=inactive, starts_at=T0, ends_at=T0 + timedelta(1)
        )
    assert raised.value.message == "The substitute is not an active user."
    assert OutOfOffice.objects.count() == 0


def test_a_substitute_deactivated_later_is_not_used(acme):
    away(acme, "employee", "budget_manager1")
    substitute = acme.user("budget_manager1")
    substitute.is_active = False
    substitute.save()
    with at(T0 + timedelta(days=1)):
        _, attachment = attached_request(
            acme, two_stage_workflow(acme, user_approval(acme.user("employee")))
        )
    assert approvers_of(attachment) == ["acme-employee"]
