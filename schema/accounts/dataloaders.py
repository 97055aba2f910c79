"""DataLoaders of the accounts area: users, roles and forms by id, for approvals and approvers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Model
from strawberry.dataloader import DataLoader

from backend.workflows.approval_config import form_model, role_model
from schema.resolution import batch_loader


def by_ids(model: type[Model]) -> Any:
    """Return a batch function loading rows of ``model`` by primary key (None when gone)."""

    def load(ids: list[int]) -> list[Any]:
        found = model._default_manager.in_bulk(ids)
        return [found.get(pk) for pk in ids]

    return load


@dataclass
class AccountLoaders:
    """Users, roles and forms by id."""

    user_by_id: DataLoader[int, Any] = field(
        default_factory=lambda: batch_loader(by_ids(get_user_model()))
    )
    role_by_id: DataLoader[int, Any] = field(
        default_factory=lambda: batch_loader(by_ids(role_model()))
    )
    form_by_id: DataLoader[int, Any] = field(
        default_factory=lambda: batch_loader(by_ids(form_model()))
    )
