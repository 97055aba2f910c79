"""What a host application uses to add its own types to the API (see docs/graphql-api.md).

A host application's schema module (the demo's is ``backend/demo/schema.py``) imports only
this module from ``schema``: Node ids, keyset connections, the payload and error conventions,
and ``register_target`` to make its type the ``Target`` of attachments and a ``node(id:)``
answer. ``schema/root.py`` merges its queries, mutations and types with the engine's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Model, QuerySet

from schema.accounts.types import DATABASE_ID, UserType
from schema.attachments.targets import TARGET_TYPES, TargetInterface, model_label
from schema.connections import connection
from schema.context import RequestContext, context_of
from schema.errors import MutationError, MutationPayload, query_error, run_mutation
from schema.execution.pagination import CheckedListConnection
from schema.global_ids import BUSINESS_OBJECT_TYPES, NODE_LABELS, global_id, model_node_id
from schema.nodes import NODE_LOADERS, scoped_loader
from schema.tenancy import MAX_PAGE_SIZE, viewer_company_id

__all__ = [
    "DATABASE_ID",
    "MAX_PAGE_SIZE",
    "CheckedListConnection",
    "MutationError",
    "MutationPayload",
    "RequestContext",
    "TargetInterface",
    "UserType",
    "connection",
    "context_of",
    "global_id",
    "model_node_id",
    "query_error",
    "register_target",
    "run_mutation",
    "viewer_company_id",
]


def register_target(
    model: type[Model],
    graphql_type: type,
    *,
    label: str,
    company_objects: Callable[[int | None], QuerySet[Any]],
) -> None:
    """Make ``graphql_type`` (a Node implementing ``Target``) the type of ``model``'s objects.

    Attachments' ``target`` then answers the object as ``graphql_type``, with its Node id;
    ``node(id:)`` refetches it from ``company_objects(company_id)`` (so never another
    company's); inputs naming a business object accept that id. ``label`` names the type in
    errors ("Purchase request not found.").
    """
    definition = getattr(graphql_type, "__strawberry_definition__", None)
    if definition is None or not issubclass(graphql_type, TargetInterface):
        raise TypeError(f"{graphql_type!r} is not a strawberry type implementing Target.")
    type_name = definition.name
    TARGET_TYPES[model] = graphql_type
    BUSINESS_OBJECT_TYPES[model_label(model)] = type_name
    NODE_LABELS[type_name] = label
    NODE_LOADERS[type_name] = scoped_loader(
        lambda context: company_objects(context.company_id), optimize=True
    )
