"""The adapter writes a stage's approval rows itself: the same rows approval_workflow writes.

``backend/workflows/approvals.py`` opens a stage with one INSERT instead of the package's
``start_flow`` / ``extend_flow`` followed by the engine's corrections (separation of duties,
due times). The package's own APIs read those rows afterwards (``advance_flow`` decides on
them), so they must be exactly what the package path leaves: every column but the keys and
the timestamps is compared here, for every strategy, with and without a left-out requester
and a deadline, on a new flow and on an extended one. Each path runs in a rolled-back
savepoint, so round robin sees the same assignment counts in both.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from approval_workflow.choices import ApprovalStatus
from approval_workflow.models import ApprovalInstance
from approval_workflow.services import extend_flow, start_flow
from django.db import transaction
from django.utils import timezone

from backend.workflows import approvals
from backend.workflows.exceptions import WorkflowValidationError
from tests.support.helpers import make_purchase_request
from tests.support.workflow_builders import role_approval, user_approval

pytestmark = pytest.mark.django_db

IGNORED = {"id", "flow", "started_at", "updated_at", "due_date"}
COLUMNS = [f.attname for f in ApprovalInstance._meta.concrete_fields if f.name not in IGNORED]


class _Rollback(Exception):
    pass


def _rows(flow_id: int) -> list[tuple[Any, ...]]:
    rows = ApprovalInstance.objects.filter(flow_id=flow_id)
    described = [
        (
            *(getattr(row, column) for column in COLUMNS),
            # The due time: set on the rows opened with a duration, near now + it.
            row.due_date is not None,
        )
        for row in rows
        for _ in [_check_due(row)]
    ]
    return sorted(described, key=repr)


def _check_due(row: ApprovalInstance) -> None:
    if row.due_date is not None:
        assert row.sla_duration is not None
        assert abs(row.due_date - (timezone.now() + row.sla_duration)) < timedelta(minutes=1)


def _outcome(write: Any) -> Any:
    """Run ``write`` in a savepoint that is rolled back; return its rows, or its error text."""
    result: Any = None
    try:
        with transaction.atomic():
            try:
                result = _rows(write())
            except WorkflowValidationError as error:
                result = ("error", error.message)
            raise _Rollback
    except _Rollback:
        pass
    return result


def _package_path(obj: Any, steps: list[dict[str, Any]], flow: Any = None) -> int:
    """What the package writes, with the engine's corrections (before the adapter wrote rows)."""
    steps = copy.deepcopy(steps)
    try:
        if flow is None:
            flow = start_flow(obj, steps)
        else:
            extend_flow(flow, steps)
    except ValueError as error:
        raise approvals._translate(error) from error
    first = min(steps, key=lambda step: step["step"])
    if first["extra_fields"].get("left_out") is not None:
        approvals.leave_out(flow.pk, first["step"], first["extra_fields"])
    if any(step.get("sla_duration") for step in steps):
        approvals.stamp_due_dates(flow.pk)
    return flow.pk


def _adapter_path(obj: Any, steps: list[dict[str, Any]], flow: Any = None) -> int:
    steps = copy.deepcopy(steps)
    if flow is None:
        return approvals.open_flow(obj, steps, replace_existing=False).pk
    approvals.add_steps(flow, steps)
    return flow.pk


def _steps(approval_list: list[dict[str, Any]], *, first: int, left_out: Any) -> Any:
    stage = SimpleNamespace(pk=99, name_en="Checks", approvals=approval_list)
    return approvals.build_steps(stage, first, left_out=left_out.pk if left_out else None)


DEADLINE = {"due_in": "P2D", "remind_before": "PT4H", "on_timeout": {"action": "reject"}}
NO_REMINDER = {"due_in": "PT1H", "on_timeout": {"action": "escalate"}}
STRATEGIES = ["anyone", "consensus", "round_robin", "quorum", "majority", "percentage"]


def _approval(acme: Any, strategy: str, **extra: Any) -> dict[str, Any]:
    if strategy == "quorum":
        extra.setdefault("quorum_count", 2)
    if strategy == "percentage":
        extra.setdefault("percentage_required", 60)
    return role_approval(acme.roles["Finance Reviewer"], strategy, **extra)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("deadline", [{}, DEADLINE, NO_REMINDER], ids=["none", "remind", "plain"])
@pytest.mark.parametrize("left_out", [False, True], ids=["all", "requester-left-out"])
def test_a_new_flow_has_the_rows_the_package_writes(acme, strategy, deadline, left_out):
    # given: 3 finance reviewers, one of whom started the workflow (when left out)
    reviewers = acme.roles["Finance Reviewer"]
    acme.user("employee").groups.add(reviewers)
    requester = acme.user("finance_reviewer1")
    # an earlier row for reviewer 2, so round robin has assignment counts to weigh
    approvals.open_flow(
        make_purchase_request(acme),
        _steps([user_approval(acme.user("finance_reviewer2"))], first=1, left_out=None),
        replace_existing=False,
    )
    request = make_purchase_request(acme)
    steps = _steps(
        [
            _approval(acme, strategy, **deadline),
            user_approval(acme.user("cfo"), **deadline),
            _approval(acme, strategy),
        ],
        first=1,
        left_out=requester if left_out else None,
    )

    # when
    package = _outcome(lambda: _package_path(request, steps))
    adapter = _outcome(lambda: _adapter_path(request, steps))

    # then
    assert adapter == package
    assert adapter[0] != "error"
    current = [row for row in adapter if row[COLUMNS.index("status")] == ApprovalStatus.CURRENT]
    assert current, "the first step is open"


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("left_out", [False, True], ids=["all", "requester-left-out"])
def test_an_extended_flow_has_the_rows_the_package_writes(acme, strategy, left_out):
    # given: a flow whose first stage (the CFO) is decided, with its rows kept; 3 reviewers
    acme.user("employee").groups.add(acme.roles["Finance Reviewer"])
    request = make_purchase_request(acme)
    flow = approvals.open_flow(
        request,
        _steps([user_approval(acme.user("cfo"))], first=1, left_out=None),
        replace_existing=False,
    )
    ApprovalInstance.objects.filter(flow=flow).update(status=ApprovalStatus.APPROVED)
    requester = acme.user("finance_reviewer2")
    steps = _steps(
        [_approval(acme, strategy, **DEADLINE), user_approval(acme.user("employee"))],
        first=2,
        left_out=requester if left_out else None,
    )

    # when
    package = _outcome(lambda: _package_path(request, steps, flow))
    adapter = _outcome(lambda: _adapter_path(request, steps, flow))

    # then
    assert adapter == package
    assert adapter[0] != "error"


def test_a_user_step_first_has_the_rows_the_package_writes(acme):
    request = make_purchase_request(acme)
    steps = _steps(
        [user_approval(acme.user("cfo"), **DEADLINE), _approval(acme, "round_robin")],
        first=5,
        left_out=acme.user("requester"),
    )
    assert _outcome(lambda: _adapter_path(request, steps)) == _outcome(
        lambda: _package_path(request, steps)
    )


@pytest.mark.parametrize(
    "strategy, members, message",
    [
        ("anyone", [], "A role of this stage has no active members."),
        ("round_robin", ["finance_reviewer1"], "no eligible approver"),
        ("consensus", ["finance_reviewer1"], "no eligible approver"),
        ("quorum", ["finance_reviewer1", "finance_reviewer2"], "no eligible approver"),
    ],
)
def test_a_step_nobody_may_take_fails_as_it_did(acme, strategy, members, message):
    # given: the role's members are only ``members``; finance_reviewer1 started the workflow
    role = acme.roles["Finance Reviewer"]
    role.user_set.set([acme.user(name) for name in members])
    request = make_purchase_request(acme)
    steps = _steps([_approval(acme, strategy)], first=1, left_out=acme.user("finance_reviewer1"))

    # when
    package = _outcome(lambda: _package_path(request, steps))
    adapter = _outcome(lambda: _adapter_path(request, steps))

    # then: the same refusal
    assert adapter == package
    assert adapter[0] == "error" and message in adapter[1]


# --------------------------------------------------------------------------- approvals


def _approve_outcome(request: Any, holder: Any, *, own: bool, last_step: int) -> Any:
    """Approve ``holder``'s step on the adapter's path (``own``) or the package's; the rows."""

    def write() -> int:
        step = approvals.current_step_for_user(
            approvals.ContentType.objects.get_for_model(request).pk, str(request.pk), holder
        )
        assert step is not None
        approvals.approve(
            step,
            user=holder,
            comment="fine",
            form_data={"k": "v"},
            last_step=last_step if own else None,
        )
        return step.flow_id

    return _outcome(write)


STAGES = {
    # name: (the stage's approvals, whose step is approved first)
    "user then role": (
        lambda acme: [user_approval(acme.user("cfo")), _approval(acme, "round_robin", **DEADLINE)],
        "cfo",
    ),
    "anyone then user": (
        lambda acme: [_approval(acme, "anyone"), user_approval(acme.user("cfo"), **DEADLINE)],
        "finance_reviewer2",
    ),
    "anyone then user, no reminder": (
        lambda acme: [_approval(acme, "anyone"), user_approval(acme.user("cfo"), **NO_REMINDER)],
        "finance_reviewer2",
    ),
    "anyone then quorum": (
        lambda acme: [_approval(acme, "anyone"), _approval(acme, "quorum", **NO_REMINDER)],
        "employee",
    ),
    "consensus share": (lambda acme: [_approval(acme, "consensus")], "finance_reviewer2"),
    "round robin, last": (lambda acme: [_approval(acme, "round_robin")], None),
    "user, last": (lambda acme: [user_approval(acme.user("cfo"), **DEADLINE)], "cfo"),
}


@pytest.mark.parametrize("name", STAGES)
@pytest.mark.parametrize("left_out", [False, True], ids=["all", "requester-left-out"])
def test_an_approval_writes_what_the_package_writes(acme, name, left_out):
    # given: 3 reviewers; the stage opened on a new flow (finance_reviewer1 started it)
    acme.user("employee").groups.add(acme.roles["Finance Reviewer"])
    approvals_of, holder_name = STAGES[name]
    request = make_purchase_request(acme)
    steps = _steps(
        approvals_of(acme), first=1, left_out=acme.user("finance_reviewer1") if left_out else None
    )
    flow = approvals.open_flow(request, steps, replace_existing=False)
    holders = ApprovalInstance.objects.filter(flow=flow, status=ApprovalStatus.CURRENT)
    holder = (
        acme.user(holder_name) if holder_name else holders.order_by("id").first().assigned_to  # type: ignore[union-attr]
    )
    last_step = max(step["step"] for step in steps)

    # when
    package = _approve_outcome(request, holder, own=False, last_step=last_step)
    adapter = _approve_outcome(request, holder, own=True, last_step=last_step)

    # then: the same rows (the approved one, the step opened next or the shares left)
    assert adapter == package
    assert adapter[0] != "error"
    approved = [row for row in adapter if row[COLUMNS.index("status")] == ApprovalStatus.APPROVED]
    assert len(approved) == 1
