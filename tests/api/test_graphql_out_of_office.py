"""setOutOfOffice, clearOutOfOffice and me.outOfOffice through GraphQL."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

import pytest
from django.contrib.auth import get_user_model

from backend.workflows.models import OutOfOffice
from tests.support.database_state import database_state
from tests.support.helpers import approvers_of, global_id, graphql
from tests.support.workflow_builders import attached_request, two_stage_workflow, user_approval

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)

SET = """
mutation($input: SetOutOfOfficeInput!) {
  setOutOfOffice(input: $input) {
    outOfOffice { substitute { username } startsAt endsAt reason isActive }
    error { code field message }
  }
}
"""

CLEAR = """
mutation { clearOutOfOffice(input: {clientMutationId: "c1"}) {
  cleared clientMutationId error { code } query { me { outOfOffice { reason } } }
} }
"""

ME = "query { me { user { username } outOfOffice { substitute { username } isActive reason } } }"


def at(moment):
    return mock.patch("django.utils.timezone.now", return_value=moment)


def absence(substitute, **fields):
    return {
        "substituteId": global_id("User", substitute.pk),
        "startsAt": "2026-07-01T08:00:00+00:00",
        "endsAt": "2026-07-08T08:00:00+00:00",
        "reason": "Holiday",
        **fields,
    }


def test_an_absence_is_set_read_and_sends_new_steps_to_the_substitute(client, acme):
    # given
    cfo, boss = acme.user("cfo"), acme.user("budget_manager1")

    # when
    with at(T0):
        body = graphql(client, SET, {"input": absence(boss)}, user=cfo)
        me = graphql(client, ME, user=cfo)
        request, attachment = attached_request(acme, two_stage_workflow(acme, user_approval(cfo)))

    # then
    assert body["data"]["setOutOfOffice"] == {
        "outOfOffice": {
            "substitute": {"username": "acme-budget_manager1"},
            "startsAt": "2026-07-01T08:00:00+00:00",
            "endsAt": "2026-07-08T08:00:00+00:00",
            "reason": "Holiday",
            "isActive": True,
        },
        "error": None,
    }
    assert me["data"]["me"] == {
        "user": {"username": "acme-cfo"},
        "outOfOffice": {
            "substitute": {"username": "acme-budget_manager1"},
            "isActive": True,
            "reason": "Holiday",
        },
    }
    assert approvers_of(attachment) == ["acme-budget_manager1"]


def test_a_second_set_replaces_the_first_and_clear_removes_it(client, acme):
    cfo = acme.user("cfo")
    graphql(client, SET, {"input": absence(acme.user("budget_manager1"))}, user=cfo)
    graphql(client, SET, {"input": absence(acme.user("employee"), reason="Conference")}, user=cfo)
    assert OutOfOffice.objects.filter(user=cfo).count() == 1
    assert OutOfOffice.objects.get(user=cfo).substitute == acme.user("employee")

    first = graphql(client, CLEAR, user=cfo)
    second = graphql(client, CLEAR, user=cfo)

    assert first["data"]["clearOutOfOffice"] == {
        "cleared": True,
        "clientMutationId": "c1",
        "error": None,
        "query": {"me": {"outOfOffice": None}},
    }
    assert second["data"]["clearOutOfOffice"]["cleared"] is False
    assert not OutOfOffice.objects.filter(user=cfo).exists()


@pytest.mark.parametrize(
    ("substitute", "fields", "expected"),
    [
        pytest.param(
            "cfo",
            {},
            ("VALIDATION_ERROR", "substituteId", "You cannot be your own substitute."),
            id="oneself",
        ),
        pytest.param(
            "inactive",
            {},
            ("VALIDATION_ERROR", "substituteId", "The substitute is not an active user."),
            id="inactive",
        ),
        pytest.param(
            "employee",
            {"endsAt": "2026-07-01T08:00:00+00:00"},
            ("VALIDATION_ERROR", "endsAt", "The absence must end after it starts."),
            id="empty window",
        ),
        pytest.param(
            "employee",
            {"endsAt": "2027-07-08T08:00:00+00:00"},
            ("VALIDATION_ERROR", "endsAt", "An absence lasts at most 366 days."),
            id="too long",
        ),
        pytest.param(
            "employee",
            {"startsAt": "2026-07-01T08:00:00"},
            (
                "VALIDATION_ERROR",
                "startsAt",
                "Give the date-time with its time zone (e.g. 2026-07-01T08:00:00Z).",
            ),
            id="no time zone",
        ),
        pytest.param(
            "employee",
            {"reason": "x" * 501},
            ("VALIDATION_ERROR", "reason", "The reason is longer than 500 characters."),
            id="long reason",
        ),
        pytest.param(
            "other company",
            {},
            ("NOT_FOUND", "substituteId", "User not found."),
            id="another company's user",
        ),
    ],
)
def test_bad_input_is_a_typed_error_and_changes_nothing(
    client, acme, globex, substitute, fields, expected
):
    # given
    users = {
        "cfo": acme.user("cfo"),
        "employee": acme.user("employee"),
        "inactive": acme.user("finance_reviewer2"),
        "other company": globex.user("cfo"),
    }
    get_user_model().objects.filter(pk=users["inactive"].pk).update(is_active=False)
    before = database_state()

    # when
    body = graphql(client, SET, {"input": absence(users[substitute], **fields)}, user=users["cfo"])

    # then
    error = body["data"]["setOutOfOffice"]["error"]
    assert (error["code"], error["field"], error["message"]) == expected
    assert body["data"]["setOutOfOffice"]["outOfOffice"] is None
    assert database_state() == before


def test_anonymous_callers_change_nothing(client, acme):
    before = database_state()

    set_body = graphql(client, SET, {"input": absence(acme.user("cfo"))})
    clear_body = graphql(client, CLEAR)

    assert set_body["data"]["setOutOfOffice"]["error"]["code"] == "UNAUTHENTICATED"
    assert clear_body["data"]["clearOutOfOffice"]["error"]["code"] == "UNAUTHENTICATED"
    assert database_state() == before


def test_the_viewer_reads_only_their_own_absence(client, acme, globex):
    graphql(client, SET, {"input": absence(acme.user("employee"))}, user=acme.user("cfo"))

    theirs = graphql(client, ME, user=globex.user("cfo"))
    colleague = graphql(client, ME, user=acme.user("employee"))

    assert theirs["data"]["me"]["outOfOffice"] is None
    assert colleague["data"]["me"]["outOfOffice"] is None
