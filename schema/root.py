"""The root types: each area's queries, mutations and subscriptions, merged.

The host application's own types join here as any host's would: the demo's schema module
(``backend.demo.schema``) adds purchase requests, their connection and their mutation.
"""

from __future__ import annotations

import strawberry

from backend.demo import schema as demo_schema
from backend.demo.schema import DemoMutations, DemoQueries
from schema.accounts.absence import AbsenceMutations
from schema.accounts.queries import AccountQueries
from schema.actions.mutations import ActionMutations
from schema.actions.queries import ActionQueries
from schema.attachments.bulk import BulkDecisionMutations
from schema.attachments.mutations import AttachmentMutations
from schema.attachments.queries import AttachmentQueries
from schema.attachments.reassignment import ReassignmentMutations
from schema.attachments.subscriptions import Subscription
from schema.attachments.targets import BusinessObjectType
from schema.nodes import NodeQueries
from schema.workflows.configuration import ConfigurationMutations
from schema.workflows.mutations import WorkflowMutations
from schema.workflows.queries import WorkflowQueries

__all__ = ["TYPES", "Mutation", "Query", "Subscription"]


@strawberry.type(description="Every read, scoped to the viewer's company.")
class Query(
    NodeQueries, AccountQueries, WorkflowQueries, AttachmentQueries, ActionQueries, DemoQueries
):
    pass


@strawberry.type(
    description="Every change: build workflow templates, attach and run them, decide on stages."
)
class Mutation(
    WorkflowMutations,
    AttachmentMutations,
    ReassignmentMutations,
    BulkDecisionMutations,
    AbsenceMutations,
    ActionMutations,
    ConfigurationMutations,
    DemoMutations,
):
    pass


# Types no field names directly: the implementations of the ``Target`` interface.
TYPES: list[type] = [BusinessObjectType, *demo_schema.TYPES]
