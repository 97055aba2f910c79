"""The business object a workflow runs on: the ``Target`` interface.

A host application that gives a model a GraphQL type of its own (``schema.host.register_target``)
makes that type implement ``Target``: an attachment's ``target`` is then that very object,
with the same global id and ``__typename`` wherever it appears, so a client's normalized
cache (Apollo, Relay) holds one record for it. Objects of other models are ``BusinessObject``
values, whose global id names the model (``app_label.modelname:pk``).
"""

from __future__ import annotations

from typing import Any

import strawberry
from django.db.models import Model
from strawberry.types import Info

from schema.context import context_of
from schema.global_ids import business_object_id

# Model class -> the host application's strawberry type implementing ``Target``.
TARGET_TYPES: dict[type[Model], type] = {}


def model_label(model: type[Model]) -> str:
    """Return ``app_label.modelname`` in lower case, as ``Target.model`` shows it."""
    return f"{model._meta.app_label}.{model._meta.model_name}"


async def status_of(obj: Model | None, label: str, info: Info) -> str | None:
    """Return the value of the configured status field of ``obj`` (None without one)."""
    if obj is None:
        return None
    configuration = await context_of(info).loaders.configuration_by_model.load(label)
    field_name = configuration.status_field if configuration is not None else ""
    if not field_name:
        return None
    value = getattr(obj, field_name, None)
    return None if value is None else str(value)


@strawberry.interface(
    name="Target",
    description="The business object a workflow runs on. Objects of a model with a type of its "
    "own (PurchaseRequest in the demo) are that type, with that type's id.",
)
class TargetInterface:
    """Fields resolved from a model instance; ``BusinessObjectType`` overrides them."""

    @strawberry.field(
        description="The object's global id: the id of its own type (e.g. PurchaseRequest), "
        "else an opaque id naming the model and key."
    )
    def id(self) -> strawberry.ID:
        assert isinstance(self, Model)
        return business_object_id(model_label(type(self)), self.pk)

    @strawberry.field(description="app_label.modelname, e.g. demo.purchaserequest.")
    def model(self) -> str:
        assert isinstance(self, Model)
        return model_label(type(self))

    @strawberry.field(description="Primary key of the object (its databaseId, as a string).")
    def object_id(self) -> strawberry.ID:
        assert isinstance(self, Model)
        return strawberry.ID(str(self.pk))

    @strawberry.field(description="The object's text representation.")
    def display(self) -> str:
        return str(self)

    @strawberry.field(
        description="The value of the model's configured status field (registerModelForWorkflow); "
        "null when none is configured or the object is gone."
    )
    async def status(self, info: Info) -> str | None:
        assert isinstance(self, Model)
        return await status_of(self, model_label(type(self)), info)


@strawberry.type(
    name="BusinessObject",
    description="A business object of a model without a GraphQL type of its own (or one that "
    "was deleted: display is then (deleted)).",
)
class BusinessObjectType(TargetInterface):
    id: strawberry.ID = strawberry.field(
        description="An opaque global id naming the model and the key."
    )
    model: str = strawberry.field(description="app_label.modelname, e.g. demo.ticket.")
    object_id: strawberry.ID = strawberry.field(description="Primary key of the object.")
    display: str = strawberry.field(
        description="The object's text representation; (deleted) when it is gone."
    )
    target: strawberry.Private[Any] = None

    @strawberry.field(
        description="The value of the model's configured status field (registerModelForWorkflow); "
        "null when none is configured or the object is gone."
    )
    async def status(self, info: Info) -> str | None:
        return await status_of(self.target, self.model, info)


def target_of(obj: Model | None, *, label: str, object_id: str) -> Any:
    """Return what ``WorkflowAttachment.target`` answers for ``obj`` (None: deleted)."""
    if obj is not None:
        host_type = TARGET_TYPES.get(type(obj))
        if host_type is not None:
            return strawberry.cast(host_type, obj)
    return BusinessObjectType(
        id=business_object_id(label, object_id),
        model=label,
        object_id=strawberry.ID(object_id),
        display=str(obj) if obj is not None else "(deleted)",
        target=obj,
    )
