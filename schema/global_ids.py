"""Global object identification: every entity's ``id`` is an opaque global id.

A global id is strawberry's relay ``GlobalID``: base64 of ``TypeName:databaseId``. Clients
treat it as opaque; ``databaseId`` gives the key for people who need it.

Every ``ID`` input takes the global id of the type it names. A raw database id (digits only)
is accepted too, for scripts and ports of django-dynamic-workflows code that hold primary
keys; the global id of another type is refused as NOT_FOUND naming the field, exactly as an
unknown id is.
"""

from __future__ import annotations

from base64 import b64encode
from typing import Any

import strawberry
from strawberry.relay import GlobalID, GlobalIDValueError

from backend.workflows.exceptions import NotFoundError
from backend.workflows.input_limits import parse_id

# The type name of each Node and how its "not found" error names it.
NODE_LABELS = {
    "Workflow": "Workflow",
    "Pipeline": "Pipeline",
    "Stage": "Stage",
    "WorkflowAttachment": "Workflow attachment",
    "WorkflowEvent": "Workflow event",
    "WorkflowAction": "Workflow action",
    "User": "User",
    "Role": "Role",
    "Form": "Form",
    "Department": "Department",
    "Company": "Company",
}


# Model label (``app_label.modelname``, lower case) -> the name of the host application's Node
# type for its objects (``schema.host.register_target``). Objects of other models get global ids
# naming the model label itself.
BUSINESS_OBJECT_TYPES: dict[str, str] = {}


def business_object_id(model_label: str, key: Any) -> strawberry.ID:
    """Return the global id of the business object of ``model_label`` whose key is ``key``."""
    label = model_label.lower()
    return global_id(BUSINESS_OBJECT_TYPES.get(label, label), key)


def business_object_key(model_label: str, value: Any, *, field: str) -> Any:
    """Return the key ``value`` names for an object of ``model_label``.

    ``value`` may be the object's global id (``Target.id``, or the id of the host's type for
    it) or its raw key; the global id of anything else is NOT_FOUND naming ``field``.
    """
    if not isinstance(value, str) or value.isdigit() or len(value) > 200:
        return value
    try:
        decoded = GlobalID.from_id(value)
    except (GlobalIDValueError, ValueError, TypeError):
        return value
    label = model_label.lower()
    if decoded.type_name not in {label, BUSINESS_OBJECT_TYPES.get(label)} or not decoded.node_id:
        raise NotFoundError("Object not found.", field=field)
    return decoded.node_id


def global_id(type_name: str, database_id: Any) -> strawberry.ID:
    """Return the global id of the ``type_name`` object whose key is ``database_id``."""
    return strawberry.ID(b64encode(f"{type_name}:{database_id}".encode()).decode())


def optional_global_id(type_name: str, database_id: Any) -> strawberry.ID | None:
    """Return the global id, or None when there is no key."""
    return None if database_id is None else global_id(type_name, database_id)


def decode_global_id(value: Any) -> tuple[str, str] | None:
    """Return ``(type name, key)`` of a global id, or None when ``value`` is not one."""
    if not isinstance(value, str) or len(value) > 200 or value.isdigit():
        return None
    try:
        decoded = GlobalID.from_id(value)
    except (GlobalIDValueError, ValueError, TypeError):
        return None
    if decoded.type_name not in NODE_LABELS or not decoded.node_id:
        return None
    return decoded.type_name, decoded.node_id


def database_id(value: Any, type_name: str, *, field: str) -> Any:
    """Return the key ``value`` names: the key of a global id of ``type_name``.

    A global id of another type is NOT_FOUND naming ``field``. Anything else (a raw database
    id, or garbage) is returned as it is, for the selector or service to parse and refuse
    exactly as it always has.
    """
    decoded = decode_global_id(value)
    if decoded is None:
        return value
    if decoded[0] != type_name:
        raise NotFoundError(f"{NODE_LABELS.get(type_name, type_name)} not found.", field=field)
    return parse_id(decoded[1], field, what=NODE_LABELS.get(type_name, type_name))


def optional_database_id(value: Any, type_name: str, *, field: str) -> Any:
    """Return ``database_id(value, ...)``, or None when no value was given."""
    if value is None:
        return None
    return database_id(value, type_name, field=field)


GLOBAL_ID_DESCRIPTION = "The object's global id: opaque, unique across types (see `node`)."


def model_node_id(type_name: str) -> Any:
    """Return the ``id`` field of a strawberry-django Node type named ``type_name``.

    strawberry's own ``Node.id`` resolver runs, for a model instance, through strawberry-django's
    wrapper (a worker-thread hop per object under async execution): on a page of 5,000 stages
    that tripled the time of the query. This one reads the primary key in memory.
    """
    import strawberry_django

    from schema.resolution import in_memory

    def resolve(root: Any) -> strawberry.ID:
        return global_id(type_name, root.pk)

    resolve.__name__ = "id"
    return strawberry_django.field(
        name="id", description=GLOBAL_ID_DESCRIPTION, only=["id"], resolver=in_memory(resolve)
    )
