"""The root types: each area's queries, mutations and subscriptions, merged."""

from __future__ import annotations

import strawberry

from schema.accounts.queries import AccountQueries
from schema.actions.mutations import ActionMutations
from schema.actions.queries import ActionQueries
from schema.attachments.mutations import AttachmentMutations
from schema.attachments.queries import AttachmentQueries
from schema.attachments.subscriptions import Subscription
from schema.attachments.targets import BusinessObjectType
from schema.nodes import NodeQueries
from schema.workflows.configuration import ConfigurationMutations
from schema.workflows.mutations import WorkflowMutations
from schema.workflows.queries import WorkflowQueries

__all__ = ["TYPES", "Mutation", "Query", "Subscription"]


@strawberry.type(description="Every read, scoped to the viewer's company.")
class Query(NodeQueries, AccountQueries, WorkflowQueries, AttachmentQueries, ActionQueries):
    pass


@strawberry.type(
    description="Every change: build workflow templates, attach and run them, decide on stages."
)
class Mutation(WorkflowMutations, AttachmentMutations, ActionMutations, ConfigurationMutations):
    pass


# Types no field names directly: the implementations of the ``Target`` interface.
TYPES: list[type] = [BusinessObjectType]
