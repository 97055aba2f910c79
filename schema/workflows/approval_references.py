"""Load the users, roles and forms that stage approvals name, together with the stages.

Approvals are JSON on the stage, so the optimizer cannot prefetch what they name. Resolving
each name through a DataLoader costs an awaitable per field, and those dominated the time
of large nested lists (three per approval). Instead, when the optimizer fetches a list of
stages whose approvals' ``user``, ``role`` or ``requiredForm`` the query selects, that
queryset loads them right after its rows, in the same thread, with one query per kind; the
resolvers then read them without awaiting. Stages fetched any other way fall back to the
DataLoaders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from backend.workflows.approval_config import form_model, role_model

# GraphQL field of ``Approval`` -> the kind of object it names.
REFERENCE_FIELDS = {"user": "user", "role": "role", "requiredForm": "form"}
# The approval dict key holding each kind's id.
REFERENCE_KEYS = {"user": "approval_user", "role": "user_role", "form": "required_form"}


@dataclass(frozen=True)
class ApprovalReferences:
    """The objects named by the approvals of a batch of stages, by kind and id."""

    kinds: frozenset[str]
    objects: dict[str, dict[int, Any]] = field(default_factory=dict)
    # What ``output`` built, by kind and id: most approvals name the same few objects.
    outputs: dict[tuple[str, int], Any] = field(default_factory=dict)

    def output(self, kind: str, pk: int, build: Callable[[Any], Any]) -> tuple[bool, Any]:
        """Return ``(known, build(object))``, or ``(True, None)`` for a missing object.

        Not known means the kind was not loaded. ``build`` runs once per object.
        """
        if kind not in self.kinds:
            return False, None
        key = (kind, pk)
        if key not in self.outputs:
            obj = self.objects[kind].get(pk)
            self.outputs[key] = build(obj) if obj is not None else None
        return True, self.outputs[key]


def load_approval_references(stages: Iterable[Any], kinds: frozenset[str]) -> ApprovalReferences:
    """Load the ``kinds`` of objects the stages' approvals name: one query per kind named."""
    ids: dict[str, set[int]] = {kind: set() for kind in kinds}
    for stage in stages:
        for approval in stage.approvals or []:
            for kind in kinds:
                value = approval.get(REFERENCE_KEYS[kind])
                if value is not None:
                    ids[kind].add(value)
    models = {"user": get_user_model, "role": role_model, "form": form_model}
    objects = {
        kind: models[kind]()._default_manager.in_bulk(kind_ids) if kind_ids else {}
        for kind, kind_ids in ids.items()
    }
    return ApprovalReferences(kinds=kinds, objects=objects)


class StagesWithApprovalReferences(QuerySet):
    """Stages that load what their approvals name as soon as the rows are fetched."""

    approval_reference_kinds: frozenset[str] = frozenset()

    def _clone(self) -> Any:
        clone = super()._clone()  # type: ignore[misc]  # private QuerySet API, not in django-stubs
        clone.approval_reference_kinds = self.approval_reference_kinds
        return clone

    def _fetch_all(self) -> None:
        fetching = self._result_cache is None
        super()._fetch_all()
        if fetching and self.approval_reference_kinds:
            # Stage instances; ``approval_references`` is an attribute added to them here.
            stages: list[Any] = self._result_cache or []
            references = load_approval_references(stages, self.approval_reference_kinds)
            for stage in stages:
                stage.approval_references = references


def _field_names(selections: Iterable[Selection]) -> Iterable[SelectedField]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from _field_names(selection.selections)


def selected_reference_kinds(info: Info) -> frozenset[str]:
    """Return the kinds the query selects under ``approvals`` of the stages being fetched."""
    kinds: set[str] = set()
    for stages in info.selected_fields:
        for stage_field in _field_names(stages.selections):
            if stage_field.name != "approvals":
                continue
            for approval_field in _field_names(stage_field.selections):
                if approval_field.name in REFERENCE_FIELDS:
                    kinds.add(REFERENCE_FIELDS[approval_field.name])
    return frozenset(kinds)


def with_approval_references(queryset: QuerySet, info: Info | None) -> QuerySet:
    """Return ``queryset`` made to load the approval references the query selects."""
    if info is None or type(queryset) is not QuerySet:
        return queryset
    kinds = selected_reference_kinds(info)
    if not kinds:
        return queryset
    clone = queryset.all()
    clone.__class__ = StagesWithApprovalReferences
    clone.approval_reference_kinds = kinds  # type: ignore[attr-defined]
    return clone
