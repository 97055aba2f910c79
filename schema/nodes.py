"""``node(id:)`` and ``nodes(ids:)``: refetch any object by its global id, within the viewer's company.

Each Node type names a tenant-scoped selector; an id of another company, of an unknown type,
or of a deleted object answers null, never data (and never tells which of those it was).
Stored actions are read only by those who may manage the company's workflows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Annotated, Any

import strawberry
from asgiref.sync import sync_to_async
from django.db.models import QuerySet
from strawberry import relay
from strawberry.types import Info
from strawberry_django.optimizer import optimizer

from backend.workflows import selectors
from backend.workflows.exceptions import WorkflowValidationError
from schema.accounts.types import CompanyType, DepartmentType, FormType, RoleType, UserType
from schema.actions.types import WorkflowActionType
from schema.attachments.types import WorkflowEventType
from schema.context import RequestContext, context_of
from schema.errors import query_error
from schema.global_ids import decode_global_id
from schema.tenancy import viewer_company_id

MAX_NODES = 100


def scoped_loader(
    queryset: Callable[[RequestContext], QuerySet[Any]],
    build: Callable[[Any], Any] | None = None,
    optimize: bool = False,
) -> Callable[[RequestContext, Info, list[int]], dict[int, Any]]:
    def load(context: RequestContext, info: Info, keys: list[int]) -> dict[int, Any]:
        rows = queryset(context).filter(pk__in=keys)
        extension = optimizer.get() if optimize else None
        if extension is not None:
            rows = extension.optimize(rows, info=info)
        return {row.pk: build(row) if build else row for row in rows}

    return load


def _actions(context: RequestContext) -> QuerySet[Any]:
    if not selectors.can_manage_workflows(context.user, context.company_id):
        return selectors.company_workflow_actions(context.company_id).none()
    return selectors.company_workflow_actions(context.company_id).select_related(
        "pipeline", "stage__pipeline"
    )


def _company(context: RequestContext, info: Info, keys: list[int]) -> dict[int, Any]:
    if context.company_id not in keys:
        return {}
    account = selectors.company_users(context.company_id).filter(pk=context.company_id).first()
    assert context.company_id is not None
    return {context.company_id: CompanyType.from_company(context.company_id, account)}


# Type name -> load(context, info, keys) -> {key: object of that type}.
NODE_LOADERS: dict[str, Callable[[RequestContext, Info, list[int]], dict[int, Any]]] = {
    "Workflow": scoped_loader(
        lambda c: selectors.company_workflows_and_copies(c.company_id), optimize=True
    ),
    "Pipeline": scoped_loader(lambda c: selectors.company_pipelines(c.company_id), optimize=True),
    "Stage": scoped_loader(lambda c: selectors.company_stages(c.company_id), optimize=True),
    "WorkflowAttachment": scoped_loader(
        lambda c: selectors.company_attachments(c.company_id), optimize=True
    ),
    "WorkflowEvent": scoped_loader(
        lambda c: selectors.company_events(c.company_id), WorkflowEventType.from_model
    ),
    "WorkflowAction": scoped_loader(_actions, WorkflowActionType.from_model),
    "User": scoped_loader(lambda c: selectors.company_users(c.company_id), UserType.from_user),
    "Role": scoped_loader(lambda c: selectors.company_roles(c.company_id), RoleType.from_role),
    "Form": scoped_loader(lambda c: selectors.company_forms(c.company_id), FormType.from_form),
    "Department": scoped_loader(
        lambda c: selectors.company_departments(c.company_id), DepartmentType.from_department
    ),
    "Company": _company,
}


def load_nodes(context: RequestContext, info: Info, ids: list[str]) -> list[Any]:
    """Return the object each global id names in the viewer's company, or None (one query a type)."""
    wanted: dict[str, list[int]] = defaultdict(list)
    keys: list[tuple[str, int] | None] = []
    for value in ids:
        decoded = decode_global_id(value)
        key = None
        if decoded is not None and decoded[0] in NODE_LOADERS and decoded[1].isdigit():
            key = (decoded[0], int(decoded[1]))
            wanted[key[0]].append(key[1])
        keys.append(key)
    found = {
        type_name: NODE_LOADERS[type_name](context, info, type_keys)
        for type_name, type_keys in wanted.items()
    }
    return [found[key[0]].get(key[1]) if key is not None else None for key in keys]


@strawberry.type(description="Refetch by global id (merged into Query).")
class NodeQueries:
    @strawberry.field(
        description="The object with this global id, if it belongs to the viewer's company; "
        "else null (unknown, deleted or another company's: never data)."
    )
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
    ) -> relay.Node | None:
        viewer_company_id(info)
        context = context_of(info)
        return (await sync_to_async(load_nodes)(context, info, [id]))[0]

    @strawberry.field(
        description=f"The objects with these global ids, in order; null for each one that is "
        f"not the viewer's company's (at most {MAX_NODES} ids)."
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="Global ids, at most 100.")
        ],
    ) -> list[relay.Node | None]:
        viewer_company_id(info)
        if len(ids) > MAX_NODES:
            raise query_error(
                WorkflowValidationError(
                    f"Argument 'ids' cannot hold more than {MAX_NODES} ids.", field="ids"
                )
            )
        context = context_of(info)
        return await sync_to_async(load_nodes)(context, info, list(ids))
