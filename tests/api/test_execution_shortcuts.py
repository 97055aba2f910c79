"""``schema.execution.fast_fields`` changes how fast a response is built, never what it says.

The served schema reads plain leaf fields directly, calls simple resolvers without
strawberry's wrapper and goes straight from an object to its sub-fields. Every test here
compares it with the same schema built with ``shortcuts=False`` (plain graphql-core and
strawberry execution):

- the app's documents (every field of workflows, attachments, events, the inbox and the
  viewer) give byte-identical responses, and the shortcut path is really taken;
- on a small schema of its own, the awkward cases give the same data and the same errors
  (message, path and location): null in a non-null field, a value that cannot be coerced,
  enums, a raising resolver, a null item in a non-null list, a permission class, an unknown
  attribute; and a schema extension wrapping resolvers still sees every field;
- a deferred column is not read from the instance (it takes the normal path, which loads it).
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any
from unittest.mock import patch

import pytest
import strawberry
from asgiref.sync import async_to_sync
from django.test import override_settings
from graphql.execution.executor import Executor
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission

from backend.workflows.models import Workflow
from backend.workflows.selectors import get_workflow_attachment
from backend.workflows.services import delegate_stage
from schema.execution.fast_fields import (
    ExecutionShortcuts,
    install_lean_resolvers,
    plain_leaf_fields,
)
from schema.execution.structure_cache import results as structure_results
from schema.schema import build_schema
from tests.support.helpers import graphql
from tests.support.purchase_steps import current_approvers, start_purchase_request

pytestmark = pytest.mark.django_db

WORKFLOWS = """
query { workflows(first: 20) { totalCount
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node {
    id nameEn nameAr slug description isActive isHidden createdAt modifiedAt clonedFromId
    pipelinesCount totalStagesCount
    summary { totalPipelines totalStages totalApprovals
      pipelineBreakdown { pipelineName pipelineOrder stagesCount approvalsCount } }
    pipelines { id nameEn nameAr order stagesCount department { id name }
      stages { id nameEn nameAr order color approvalsCount clonedFromId
        approvals { approvalType approvalTypeDisplay roleSelectionStrategy strategyDisplay
          behaviour quorumCount percentageRequired
          user { id username displayName email } role { id name }
          requiredForm { id name schema } } } } } } } }
"""

ATTACHMENTS = """
query { workflowAttachments(first: 10) { totalCount edges { node {
  id status startedAt completedAt metadata createdAt startedBy { username }
  workflow { id nameEn isHidden clonedFromId }
  currentPipeline { id nameEn } nextStage { id nameEn }
  currentStage { id nameEn approvals { approvalType user { username } role { name } } }
  progress { percentage completedStages totalStages }
  target { model objectId display }
  currentApprovers { user { username } role { name } isDelegated isCheckedIn behaviour }
  availableActions
  events(first: 10) { totalCount pageInfo { hasNextPage endCursor } nodes {
    id databaseId type reason formData details occurredAt
    fromStage { id nameEn } toStage { id nameEn nameAr }
    fromPipeline { id nameEn } toPipeline { id nameEn }
    actor { username } delegate { username }
    attachment { id status currentStage { nameEn } progress { percentage } }
    snapshot { status currentStageName currentStageNameAr currentPipelineName
      progress { percentage completedStages totalStages } openActions } } }
} } } }
"""

INBOX = """
query { myPendingApprovals(first: 10) { totalCount edges { node {
  id status currentStage { nameEn } currentApprovers { user { username } isDelegated }
  availableActions } } } }
"""

ME = "query { me { user { id username displayName email } company { id name } roles { id name } } }"


@pytest.fixture
def running(acme):
    """Two purchase requests: one at its second stage, one delegated at its first."""
    start_purchase_request(acme, at_stage="Budget Approval", title="Desks")
    request, _ = start_purchase_request(acme, title="Chairs")
    delegate_stage(
        obj=request,
        user=current_approvers_of(request)[0],
        to_user=acme.user("employee"),
        reason="Away",
    )
    return acme


def current_approvers_of(request: Any) -> list[Any]:
    attachment = get_workflow_attachment(request)
    assert attachment is not None
    return current_approvers(attachment)


def _with_schema(
    client: Any, served: Any, document: str, user: Any, *, cached: bool = False
) -> bytes:
    with (
        override_settings(GRAPHQL_STRUCTURE_CACHE=cached),
        patch("schema.execution.views.schema_for_settings", return_value=served),
    ):
        body = graphql(client, document, user=user)
    assert "errors" not in body, body
    return json.dumps(body, sort_keys=False).encode()


def _cold_and_warm(client: Any, served: Any, document: str, user: Any) -> list[bytes]:
    """The answers of the first request through the structure cache and of the next one."""
    structure_results.clear()
    cold = _with_schema(client, served, document, user, cached=True)
    hits = structure_results.hits
    warm = _with_schema(client, served, document, user, cached=True)
    if document == WORKFLOWS:
        assert structure_results.hits == hits + 1, "the second request is served from the cache"
    return [cold, warm]


@pytest.mark.parametrize(
    "document", [WORKFLOWS, ATTACHMENTS, INBOX, ME], ids=["workflows", "attachments", "inbox", "me"]
)
def test_app_documents_answer_the_same_with_and_without_shortcuts(client, running, document):
    """Also through the structure cache, cold and warm, on both schemas."""
    viewers = [running.user("employee"), running.user("requester")]
    fast, plain = build_schema(), build_schema(shortcuts=False)
    for viewer in viewers:
        expected = _with_schema(client, plain, document, viewer)
        assert _with_schema(client, fast, document, viewer) == expected
        assert _cold_and_warm(client, fast, document, viewer) == [expected, expected]
        assert _cold_and_warm(client, plain, document, viewer) == [expected, expected]


def test_the_shortcuts_are_taken(client, running):
    """With them, graphql-core completes no object itself; without them, every one."""
    calls = {"objects": 0}
    original = Executor.complete_object_value

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["objects"] += 1
        return original(self, *args, **kwargs)

    viewer = running.user("employee")
    with patch.object(Executor, "complete_object_value", counting):
        _with_schema(client, build_schema(), WORKFLOWS, viewer)
        with_shortcuts = calls["objects"]
        calls["objects"] = 0
        _with_schema(client, build_schema(shortcuts=False), WORKFLOWS, viewer)
        without = calls["objects"]
    assert without >= 20
    assert with_shortcuts == 0


def test_resolved_objects_build_no_resolve_info(client, running):
    """Approvals, their user, role and form, ids and counts are completed without an info."""
    built: list[str] = []
    original = ExecutionShortcuts.build_resolve_info

    def counting(self: Any, field_def: Any, field_nodes: Any, parent: Any, path: Any) -> Any:
        built.append(f"{parent.name}.{field_nodes[0].name.value}")
        return original(self, field_def, field_nodes, parent, path)

    with patch.object(ExecutionShortcuts, "build_resolve_info", counting):
        _with_schema(client, build_schema(), WORKFLOWS, running.user("employee"))
    assert "Workflow.pipelines" in built, "relations still build one"
    completed_directly = {
        "Approval.user",
        "Approval.role",
        "Approval.requiredForm",
        "Workflow.id",
        "Pipeline.id",
        "Stage.id",
        "Stage.approvalsCount",
        "Pipeline.department",
        "Workflow.summary",
        "Stage.approvals",
    }
    assert not completed_directly & set(built), sorted(set(built))


def test_lean_resolvers_are_installed_on_simple_fields_only():
    served = build_schema()
    changed = set(install_lean_resolvers(served))
    assert {"Approval.user", "Approval.role", "Approval.requiredForm", "Stage.approvals"} <= changed
    # Resolvers with arguments, async resolvers of strawberry-django fields and root fields keep
    # strawberry's wrapper.
    assert not {"WorkflowAttachment.events", "WorkflowAttachment.progress", "Query.me"} & changed
    # Each schema has its own graphql-core field objects: the reference schema is untouched.
    plain = build_schema(shortcuts=False)
    assert (
        plain._schema.type_map["Approval"].fields["user"].resolve
        is not served._schema.type_map["Approval"].fields["user"].resolve
    )


def test_a_deferred_column_takes_the_normal_path(acme):
    served = build_schema()
    name = plain_leaf_fields(served._schema.type_map["Workflow"])["nameEn"]
    deferred = Workflow.objects.only("id").get(pk=acme.workflow.pk)
    assert name.read(deferred) is not acme.workflow.name_en  # the sentinel: not loaded
    loaded = Workflow.objects.get(pk=acme.workflow.pk)
    assert name.read(loaded) == acme.workflow.name_en


# --------------------------------------------------------------------------- a small schema


@strawberry.enum
class Colour(Enum):
    RED = "red"
    DARK_BLUE = "dark-blue"


class Denied(BasePermission):
    message = "Not for you."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Picky:
    name: str

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, Picky) and obj.name != "impostor"


@strawberry.type
class Leaf:
    name: str
    count: int
    colour: Colour
    maybe: str | None = None
    secret: str = strawberry.field(default="hidden", permission_classes=[Denied])

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def broken(self) -> str:
        raise ValueError("Broken resolver.")

    @strawberry.field
    def path_of(self, info: strawberry.Info) -> str:
        return ".".join(str(key) for key in info.path.as_list())

    # Resolvers the shortcuts call and complete themselves (objects, enums, info, awaitables).
    @strawberry.field
    def twin(self) -> Leaf | None:
        return self if self.count >= 0 else None

    @strawberry.field
    def strict_twin(self) -> Leaf:
        return self if self.count >= 0 else None  # type: ignore[return-value]

    @strawberry.field
    def broken_twin(self) -> Leaf | None:
        raise ValueError("No twin.")

    @strawberry.field
    def impostor(self) -> Picky | None:
        return Picky(name="impostor" if self.count == 13 else self.name)

    @strawberry.field
    def family(self) -> list[Leaf]:
        return [self, _leaf(name=self.name, count=self.count + 1)] if self.count != 7 else [None]  # type: ignore[list-item]

    @strawberry.field
    def loose_family(self) -> list[Leaf | None] | None:
        return [self, None] if self.count >= 0 else None

    @strawberry.field
    def pickies(self) -> list[Picky]:
        return [Picky(name="ok"), Picky(name="impostor" if self.count == 13 else "fine")]

    @strawberry.field
    def colour_of(self) -> Colour:
        return self.colour

    @strawberry.field
    def doubled(self) -> int:
        return self.count * 2  # "many" * 2 does not coerce

    @strawberry.field
    def field_named(self, info: strawberry.Info) -> str:
        return f"{info.field_name} at {info.path.key} of {info.return_type}"

    @strawberry.field
    async def later(self) -> str:
        return self.name[::-1]


@strawberry.type
class Branch:
    leaves: list[Leaf]
    nullable_leaves: list[Leaf | None]
    picky: list[Picky | None] = strawberry.field(default_factory=list)


def _leaf(**overrides: Any) -> Leaf:
    values: dict[str, Any] = {"name": "oak", "count": 3, "colour": Colour.DARK_BLUE}
    values.update(overrides)
    return Leaf(**values)


BRANCHES: list[Branch] = []


@strawberry.type
class SmallQuery:
    @strawberry.field
    def branches(self) -> list[Branch]:
        return BRANCHES


class FastContext(ExecutionShortcuts):
    pass


def _small_schemas(extensions: list[Any] | None = None) -> tuple[Any, Any]:
    fast = strawberry.Schema(
        query=SmallQuery, extensions=extensions or [], execution_context_class=FastContext
    )
    install_lean_resolvers(fast)
    plain = strawberry.Schema(query=SmallQuery, extensions=extensions or [])
    return fast, plain


def _run(schema: Any, document: str) -> dict[str, Any]:
    result = async_to_sync(schema.execute)(document)
    return {
        "data": result.data,
        "errors": [
            {"message": e.message, "path": e.path, "locations": e.locations}
            for e in result.errors or []
        ],
    }


CASES = {
    "plain values": ([_leaf()], "{ branches { leaves { name count colour maybe shout pathOf } } }"),
    "null in a non-null field": (
        [_leaf(), _leaf(name=None)],
        "{ branches { leaves { count name } } }",
    ),
    "uncoercible value": ([_leaf(count="many")], "{ branches { leaves { name count } } }"),
    "not an enum member": ([_leaf(colour="purple")], "{ branches { leaves { colour } } }"),
    "raising resolver": ([_leaf()], "{ branches { leaves { name broken } } }"),
    "permission class": ([_leaf()], "{ branches { leaves { name secret } } }"),
    "missing attribute": ([object()], "{ branches { leaves { name } } }"),
    "null list item": (
        [_leaf(), None],
        "{ branches { leaves { name } } }",
    ),
    "resolved objects": (
        [_leaf(), _leaf(name="elm", count=5)],
        "{ branches { leaves { twin { name twin { count colourOf } } strictTwin { name }"
        " impostor { name } colourOf doubled fieldNamed later } } }",
    ),
    "resolved null in a non-null object field": (
        [_leaf(), _leaf(count=-1)],
        "{ branches { leaves { name strictTwin { name } } } }",
    ),
    "resolved null in a nullable object field": (
        [_leaf(count=-1)],
        "{ branches { leaves { twin { name } brokenTwin { name } } } }",
    ),
    "resolved object refused by its type check": (
        [_leaf(count=13)],
        "{ branches { leaves { name impostor { name } } } }",
    ),
    "resolved value that does not coerce": (
        [_leaf(count="many")],
        "{ branches { leaves { doubled } } }",
    ),
    "resolved enum that is not a member": (
        [_leaf(colour="purple")],
        "{ branches { leaves { colourOf } } }",
    ),
    "resolved lists": (
        [_leaf(), _leaf(count=-1)],
        "{ branches { leaves { family { name count later family { count } } looseFamily { name }"
        " pickies { name } } } }",
    ),
    "resolved list with a null in a non-null item": (
        [_leaf(count=7)],
        "{ branches { leaves { name family { name } } } }",
    ),
    "resolved list with an item refused by its type check": (
        [_leaf(count=13)],
        "{ branches { leaves { name pickies { name } } } }",
    ),
    "error below a resolved list item": (
        [_leaf(name=None)],
        "{ branches { leaves { count looseFamily { count name } family { later name } } } }",
    ),
    "error below a resolved object": (
        [_leaf(name=None)],
        "{ branches { leaves { twin { later name } } } }",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_awkward_values_give_the_same_data_and_errors(case):
    leaves, document = CASES[case]
    BRANCHES[:] = [Branch(leaves=leaves, nullable_leaves=[None, *leaves])]
    try:
        fast, plain = _small_schemas()
        expected = _run(plain, document)
        assert _run(fast, document) == expected
        nullable = document.replace("leaves {", "nullableLeaves {")
        assert _run(fast, nullable) == _run(plain, nullable)
    finally:
        BRANCHES.clear()
    if case == "resolved lists":
        assert expected["errors"] == []
        assert expected["data"]["branches"][0]["leaves"][0]["family"][1] == {
            "name": "oak",
            "count": 4,
            "later": "kao",
            "family": [{"count": 4}, {"count": 5}],
        }
    elif case == "resolved objects":
        assert expected["errors"] == []
        assert expected["data"]["branches"][0]["leaves"][1] == {
            "twin": {"name": "elm", "twin": {"count": 5, "colourOf": "DARK_BLUE"}},
            "strictTwin": {"name": "elm"},
            "impostor": {"name": "elm"},
            "colourOf": "DARK_BLUE",
            "doubled": 10,
            "fieldNamed": "fieldNamed at fieldNamed of <class 'str'>",
            "later": "mle",
        }
    elif case == "plain values":
        assert expected["data"]["branches"][0]["leaves"][0] == {
            "name": "oak",
            "count": 3,
            "colour": "DARK_BLUE",
            "maybe": None,
            "shout": "OAK",
            "pathOf": "branches.0.leaves.0.pathOf",
        }
    else:
        assert expected["errors"], "the case must exercise an error"


def test_a_type_check_that_refuses_an_object_gives_the_same_error():
    BRANCHES[:] = [
        Branch(leaves=[], nullable_leaves=[], picky=[Picky(name="ok"), Picky(name="impostor")])
    ]
    try:
        fast, plain = _small_schemas()
        expected = _run(plain, "{ branches { picky { name } } }")
        assert _run(fast, "{ branches { picky { name } } }") == expected
    finally:
        BRANCHES.clear()
    assert expected["data"] == {"branches": [{"picky": [{"name": "ok"}, None]}]}
    assert "Expected value of type 'Picky'" in expected["errors"][0]["message"]


def test_an_extension_that_wraps_resolvers_still_sees_every_field():
    seen: list[str] = []

    class Watch(SchemaExtension):
        def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    BRANCHES[:] = [Branch(leaves=[_leaf(), _leaf()], nullable_leaves=[])]
    try:
        fast, _ = _small_schemas([Watch])
        result = _run(fast, "{ branches { leaves { name colour } } }")
    finally:
        BRANCHES.clear()
    assert result["errors"] == []
    assert seen.count("name") == 2 and seen.count("colour") == 2
