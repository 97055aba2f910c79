"""Precompiled statements give the same instances as the ORM, with values bound as parameters."""

from __future__ import annotations

import pytest
from approval_workflow.models import ApprovalInstance
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from backend.demo.models import PurchaseRequest
from backend.precompiled import PrecompiledQuery
from backend.workflows import approvals
from backend.workflows.models import WorkflowAttachment
from backend.workflows.services import running
from tests.support.helpers import make_purchase_request

pytestmark = pytest.mark.django_db


def _state(instance, related=()):
    """Every loaded field and annotation of an instance and of its select_related objects."""
    values = {key: value for key, value in vars(instance).items() if key != "_state"}
    for path in related:
        target = instance
        for name in path.split("__"):
            target = getattr(target, name) if target is not None else None
        values[path] = _state(target) if target is not None else None
    return values


def _started(scenario, count=3):
    requests = [make_purchase_request(scenario, title=f"Request {n}") for n in range(count)]
    for request in requests:
        running.attach_workflow_to_object(
            obj=request, workflow=scenario.workflow, user=scenario.user("requester")
        )
    return requests


def _content_type_id():
    return ContentType.objects.get_for_model(PurchaseRequest).pk


def test_open_rows_of_objects_match_the_orm(acme):
    requests = _started(acme)
    ids = [str(request.pk) for request in requests] + ["no-such-object"]

    precompiled = approvals._open_rows_statement.fetch(
        content_type_id=_content_type_id(), object_ids=ids
    )
    orm = list(approvals._open_rows_of_objects(_content_type_id(), ids))

    assert len(orm) >= len(requests)
    related = ("flow", "assigned_to")
    assert [_state(row, related) for row in precompiled] == [_state(row, related) for row in orm]


def test_current_rows_with_their_form_match_the_orm(acme):
    (request,) = _started(acme, count=1)
    values = {"content_type_id": _content_type_id(), "object_id": str(request.pk)}

    precompiled = approvals._current_rows_with_form_statement.fetch(**values)
    orm = list(approvals._current_rows_with_form(**values))

    assert orm and all(hasattr(row, "required_form_schema") for row in orm)
    related = ("flow", "assigned_to", "assigned_role_content_type")
    assert [_state(row, related) for row in precompiled] == [_state(row, related) for row in orm]


@pytest.mark.parametrize("with_company", [False, True])
def test_the_attachment_lock_matches_the_orm(acme, with_company):
    (request,) = _started(acme, count=1)
    attachment = WorkflowAttachment.objects.get(object_id=str(request.pk))
    values = {"attachment_id": attachment.pk}
    if with_company:
        values["actor_id"] = acme.user("requester").pk

    with transaction.atomic():
        precompiled = running._lock_statement.fetch(**values)
        orm = list(running._lock_query(**values))

    related = (
        "current_stage",
        "current_pipeline",
        "workflow",
        "content_type",
        "content_type__workflow_configuration",
    )
    assert len(precompiled) == 1
    assert [_state(row, related) for row in precompiled] == [_state(row, related) for row in orm]
    assert ("actor_company_id" in vars(precompiled[0])) is with_company


def test_values_are_bound_as_parameters_and_each_run_binds_its_own(acme):
    requests = _started(acme, count=2)
    hostile = "1' OR '1'='1"

    with CaptureQueriesContext(connection) as captured:
        first = approvals._open_rows_statement.fetch(
            content_type_id=_content_type_id(), object_ids=[str(requests[0].pk)]
        )
        nothing = approvals._open_rows_statement.fetch(
            content_type_id=_content_type_id(), object_ids=[hostile]
        )
        second = approvals._open_rows_statement.fetch(
            content_type_id=_content_type_id(), object_ids=[str(requests[1].pk)]
        )

    assert {row.flow.object_id for row in first} == {str(requests[0].pk)}
    assert nothing == []
    assert {row.flow.object_id for row in second} == {str(requests[1].pk)}
    # The statement text is the same each time; only the bound values change.
    statements = {query["sql"] for query in captured.captured_queries}
    assert len(statements) == 3 and all("precompiled" not in sql for sql in statements)


def test_unsupported_values_run_through_the_orm(acme):
    _started(acme, count=1)
    calls = []

    def build(object_ids=None, assignee_id=0):
        calls.append((object_ids, assignee_id))
        rows = ApprovalInstance.objects.filter(assigned_to_id=assignee_id)
        return rows if object_ids is None else rows.filter(flow__object_id__in=object_ids)

    statement = PrecompiledQuery(build)
    assert statement.fetch(object_ids=[]) == []  # the ORM answers an empty IN without a query
    assert statement.fetch(assignee_id=None) == list(
        ApprovalInstance.objects.filter(assigned_to_id=None)
    )
    assert statement.fetch(assignee_id=True) == []
    # each built with its real value, never compiled
    assert calls == [([], 0), (None, None), (None, True)]
    assert statement._compiled == {}


@pytest.mark.django_db(transaction=True)
def test_a_lock_outside_a_transaction_is_refused_like_the_orm(acme):
    (request,) = _started(acme, count=1)
    attachment = WorkflowAttachment.objects.get(object_id=str(request.pk))
    with transaction.atomic():
        running._lock_statement.fetch(attachment_id=attachment.pk)  # compiled inside

    def refused(read):
        try:
            read()
        except TransactionManagementError:
            return True
        return False

    # PostgreSQL refuses; SQLite, which has no row locks, reads.
    orm = refused(lambda: list(running._lock_query(attachment_id=attachment.pk)))
    precompiled = refused(lambda: running._lock_statement.fetch(attachment_id=attachment.pk))
    assert orm is precompiled is connection.features.has_select_for_update


def test_a_variant_compiles_its_own_statement(acme):
    (request,) = _started(acme, count=1)
    variant = ["first"]
    statement = PrecompiledQuery(approvals._current_rows_with_form, variant=lambda: variant[0])
    values = {"content_type_id": _content_type_id(), "object_id": str(request.pk)}

    statement.fetch(**values)
    variant[0] = "second"
    statement.fetch(**values)

    assert len(statement._compiled) == 2


@pytest.mark.parametrize("with_company", [False, True])
def test_the_attachment_search_gives_the_same_values(acme, with_company):
    (request,) = _started(acme, count=1)
    values = {"content_type_id": _content_type_id(), "object_id": str(request.pk)}
    if with_company:
        values["actor_id"] = acme.user("requester").pk

    precompiled = running._find_statement.fetch(**values)
    orm = list(running._find_query(**values))

    assert precompiled == orm
    assert len(orm) == 1 and ("actor_company_id" in orm[0]) is with_company


def test_ordered_stages_match_the_orm(acme):
    from backend.workflows import selectors

    precompiled = selectors.ordered_stages(acme.workflow.pk)
    orm = list(selectors.ordered_stages_queryset(acme.workflow.pk))

    assert len(orm) > 1
    assert [_state(stage, ("pipeline",)) for stage in precompiled] == [
        _state(stage, ("pipeline",)) for stage in orm
    ]


def test_a_value_the_statement_cannot_take_goes_to_the_orm(acme):
    from backend.workflows import selectors

    # A text key for an integer column: the ORM converts it, so the answer is the same.
    assert [stage.pk for stage in selectors.ordered_stages(str(acme.workflow.pk))] == [
        stage.pk for stage in selectors.ordered_stages(acme.workflow.pk)
    ]
    # remembered as not precompilable, so the next such call goes to the ORM at once
    assert None in selectors._ordered_stages_statement._compiled.values()


def test_a_key_beyond_the_32_bit_range_goes_to_the_orm(acme):
    from backend.workflows.exceptions import NotFoundError
    from backend.workflows.services.running import _resolve_user

    employee = acme.user("employee")
    assert _resolve_user(str(employee.pk), "userId") == employee
    for too_large in (2**31, 2**63, 10**30):
        with pytest.raises(NotFoundError):
            _resolve_user(too_large, "userId")


def test_a_user_with_the_company_matches_the_orm(acme):
    employee = acme.user("employee")

    precompiled = running._user_with_company_statement.fetch(pk=employee.pk)
    orm = list(running._user_with_company_query(employee.pk))

    assert [_state(user) for user in precompiled] == [_state(user) for user in orm]
    assert precompiled[0].membership_company_id == acme.company.pk


def test_the_viewer_permissions_match_the_orm(acme):
    from django.contrib.auth.models import Group, Permission

    employee = acme.user("employee")
    approve = Permission.objects.get(codename="approve_workflow")
    start = Permission.objects.get(codename="start_workflow")
    employee.user_permissions.add(approve)
    group = Group.objects.create(name="Starters")
    group.permissions.add(start, approve)
    employee.groups.add(group)

    precompiled = running._permissions_statement.fetch(user_id=employee.pk)
    orm = list(running._permissions_query(employee.pk))

    assert sorted(row["codename"] for row in precompiled) == ["approve_workflow", "start_workflow"]
    assert sorted(precompiled, key=str) == sorted(orm, key=str)
    assert running._workflow_permissions(acme.user("finance_reviewer1")) == set()


def test_the_previous_event_matches_the_orm(acme):
    from backend.workflows import broadcast
    from backend.workflows.models import WorkflowEvent

    (request,) = _started(acme, count=1)
    attachment = WorkflowAttachment.objects.get(object_id=str(request.pk))
    events = list(WorkflowEvent.objects.filter(attachment=attachment).order_by("pk"))
    assert len(events) >= 2

    for event in events:
        values = {"attachment_id": attachment.pk, "before_id": event.pk}
        precompiled = broadcast._previous_event_statement.fetch(**values)
        orm = list(broadcast._previous_event_query(**values))
        assert precompiled == orm
    assert broadcast._previous_event_statement.fetch(
        attachment_id=attachment.pk, before_id=events[1].pk
    ) == [{"pk": events[0].pk}]


@pytest.mark.parametrize(
    ("statement", "query"),
    [
        ("_members_statement", "_members_query"),
        ("_members_by_assignments_statement", "_members_by_assignments_query"),
    ],
)
def test_role_members_match_the_orm(acme, statement, query):
    from django.contrib.auth.models import Group

    _started(acme, count=2)  # gives some members rows, so the round robin counts differ
    group = Group.objects.filter(user__isnull=False).order_by("pk").first()
    inactive = group.user_set.order_by("pk").first()
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])

    precompiled = getattr(approvals, statement).fetch(role_key=group.pk)
    orm = list(getattr(approvals, query)(str(group.pk)))  # the stored key is text

    assert orm and inactive.pk not in [user.pk for user in orm]
    assert [_state(user) for user in precompiled] == [_state(user) for user in orm]


def test_events_of_attachments_match_the_orm(acme):
    from schema.attachments import dataloaders

    _started(acme, count=2)
    ids = list(WorkflowAttachment.objects.values_list("pk", flat=True)) + [10**6]

    precompiled = dataloaders._events_statement.fetch(attachment_ids=ids)
    orm = list(dataloaders._events_query(ids))

    related = ("actor", "from_stage", "to_stage", "from_pipeline", "to_pipeline", "delegate")
    assert len(orm) >= 4
    assert [_state(event, related) for event in precompiled] == [
        _state(event, related) for event in orm
    ]


def test_past_the_shape_cap_the_orm_answers_and_nothing_more_is_kept(acme, monkeypatch):
    # given: a statement that may keep two shapes (list lengths) compiled
    requests = _started(acme, count=3)
    monkeypatch.setattr("backend.precompiled.MAX_SHAPES", 2)
    built = []

    def build(object_ids):
        built.append(object_ids)
        return ApprovalInstance.objects.filter(flow__object_id__in=object_ids)

    statement = PrecompiledQuery(build)
    ids = [str(request.pk) for request in requests]

    # when: three shapes, then the first again
    answers = [statement.fetch(object_ids=ids[:n]) for n in (1, 2, 3, 1)]

    # then: the same rows as the ORM; the third built with its real values, never compiled
    for n, answer in zip((1, 2, 3, 1), answers, strict=True):
        expected = ApprovalInstance.objects.filter(flow__object_id__in=ids[:n])
        assert sorted(row.pk for row in answer) == sorted(row.pk for row in expected)
    assert len(statement._compiled) == 2
    assert ids[:3] in built
