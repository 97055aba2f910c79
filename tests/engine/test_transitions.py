"""The declared transition table itself: ``move`` writes only declared statuses."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from backend.workflows.constants import AttachmentStatus
from backend.workflows.exceptions import InvalidStateError
from backend.workflows.transitions import (
    TRANSITIONS,
    Action,
    Actor,
    StepShare,
    available_actions,
    move,
    open_actions,
)


def test_every_action_is_declared_once():
    assert list(TRANSITIONS) == list(Action.values)


@pytest.mark.parametrize(
    ("action", "source", "target"),
    [
        (Action.START, AttachmentStatus.NOT_STARTED, AttachmentStatus.IN_PROGRESS),
        (Action.APPROVE, AttachmentStatus.IN_PROGRESS, AttachmentStatus.COMPLETED),
        (Action.VERIFY, AttachmentStatus.IN_PROGRESS, AttachmentStatus.COMPLETED),
        (Action.REJECT, AttachmentStatus.IN_PROGRESS, AttachmentStatus.REJECTED),
        (Action.CANCEL, AttachmentStatus.NOT_STARTED, AttachmentStatus.CANCELLED),
        (Action.CANCEL, AttachmentStatus.IN_PROGRESS, AttachmentStatus.CANCELLED),
    ],
)
def test_move_writes_a_declared_transition(action, source, target):
    attachment = SimpleNamespace(status=source)

    move(attachment, action, target)

    assert attachment.status == target


@pytest.mark.parametrize(
    ("action", "source", "target"),
    [
        (Action.APPROVE, AttachmentStatus.COMPLETED, AttachmentStatus.COMPLETED),
        (Action.REJECT, AttachmentStatus.IN_PROGRESS, AttachmentStatus.COMPLETED),
        (Action.CANCEL, AttachmentStatus.REJECTED, AttachmentStatus.CANCELLED),
        (Action.START, AttachmentStatus.IN_PROGRESS, AttachmentStatus.IN_PROGRESS),
    ],
)
def test_move_refuses_an_undeclared_transition(action, source, target):
    attachment = SimpleNamespace(status=source)

    with pytest.raises(InvalidStateError) as raised:
        move(attachment, action, target)

    assert raised.value.message == f"'{action}' cannot move a {source} workflow to {target}."
    assert attachment.status == source


def test_a_share_of_another_stage_offers_nothing():
    # the engine fails closed: a row left on another stage is no step to decide
    stale = Actor(
        share=StepShare(behaviour="approve", is_checked_in=False, is_on_current_stage=False)
    )
    current = Actor(share=StepShare(behaviour="approve", is_checked_in=False))

    assert available_actions(AttachmentStatus.IN_PROGRESS, stale) == []
    assert available_actions(AttachmentStatus.IN_PROGRESS, current) == [
        Action.APPROVE,
        Action.REJECT,
        Action.DELEGATE,
        Action.REQUEST_RESUBMISSION,
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (AttachmentStatus.NOT_STARTED, [Action.START, Action.CANCEL]),
        (
            AttachmentStatus.IN_PROGRESS,
            [
                Action.APPROVE,
                Action.CHECK_IN,
                Action.VERIFY,
                Action.REJECT,
                Action.DELEGATE,
                Action.REQUEST_RESUBMISSION,
                Action.CANCEL,
                Action.REASSIGN,
            ],
        ),
        (AttachmentStatus.COMPLETED, []),
        (AttachmentStatus.REJECTED, []),
        (AttachmentStatus.CANCELLED, []),
    ],
)
def test_open_actions_are_the_actions_declared_from_a_status(status, expected):
    assert open_actions(status) == expected
