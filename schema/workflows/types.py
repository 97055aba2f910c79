"""Workflow templates (and running copies): workflows, pipelines, stages and approvals."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeGuard

import strawberry
import strawberry_django
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    IntegerField,
    Model,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
    prefetch_related_objects,
)
from django.db.models.functions import Cast
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.workflows.constants import (
    ApprovalBehaviour,
    ApprovalType,
    RoleSelectionStrategy,
)
from backend.workflows.engine_settings import department_model
from backend.workflows.models import Pipeline, Stage, Workflow
from schema.accounts.types import DATABASE_ID, DepartmentType, FormType, RoleType, UserType
from schema.context import context_of
from schema.enums import (
    ApprovalTypeEnum,
    BehaviourEnum,
    StrategyEnum,
    TimeoutActionEnum,
    WorkflowStatusEnum,
)
from schema.execution.structure_cache import uncovered_read
from schema.global_ids import model_node_id, optional_global_id
from schema.resolution import in_memory, is_prefetched, loaded_or_in_thread
from schema.workflows.approval_references import ApprovalReferences, with_approval_references


@strawberry.type(
    name="OnTimeout", description="What happens to the step if it is still open at its due time."
)
class OnTimeoutType:
    action: TimeoutActionEnum = strawberry.field(description="What process_deadlines does.")
    user_id: strawberry.Private[int | None]
    role_id: strawberry.Private[int | None]

    @strawberry.field(description="The user the step is escalated to (ESCALATE to a user).")
    async def user(self, info: Info) -> UserType | None:
        if self.user_id is None:
            return None
        user = await context_of(info).loaders.user_by_id.load(self.user_id)
        return UserType.from_user(user) if user is not None else None

    @strawberry.field(description="The role the step is escalated to (ESCALATE to a role).")
    async def role(self, info: Info) -> RoleType | None:
        if self.role_id is None:
            return None
        role = await context_of(info).loaders.role_by_id.load(self.role_id)
        return RoleType.from_role(role) if role is not None else None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> OnTimeoutType | None:
        if not data:
            return None
        return cls(
            action=TimeoutActionEnum(data["action"]),
            user_id=data.get("user"),
            role_id=data.get("role"),
        )


def _cached_for_strings(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``convert``, remembered for string values (the few an approval's JSON holds).

    Anything else is converted every time, so it fails exactly as ``convert`` does.
    """
    remembered = functools.cache(convert)

    def converted(value: Any) -> Any:
        return remembered(value) if isinstance(value, str) else convert(value)

    return converted


@_cached_for_strings
def _approval_type(value: Any) -> tuple[ApprovalTypeEnum, str]:
    return ApprovalTypeEnum(value), ApprovalType(value).label


@_cached_for_strings
def _strategy(value: Any) -> tuple[StrategyEnum, str]:
    return StrategyEnum(value), RoleSelectionStrategy(value).label


_behaviour = _cached_for_strings(BehaviourEnum)


@strawberry.type(name="Approval", description="One approval requirement of a stage.")
class ApprovalItemType:
    approval_type: ApprovalTypeEnum = strawberry.field(description="user or role.")
    approval_type_display: str = strawberry.field(description="Readable approval type.")
    role_selection_strategy: StrategyEnum | None = strawberry.field(
        description="How the role's members share the step (role approvals only)."
    )
    strategy_display: str | None = strawberry.field(description="Readable strategy.")
    behaviour: BehaviourEnum = strawberry.field(description="What the approver must do.")
    quorum_count: int | None = strawberry.field(description="Approvals needed (quorum strategy).")
    percentage_required: float | None = strawberry.field(
        description="Share of members needed (percentage strategy)."
    )
    due_in: str | None = strawberry.field(
        description="How long the step may stay open once it opens, an ISO 8601 duration "
        "(P2D); null: no deadline."
    )
    remind_before: str | None = strawberry.field(
        description="How long before the due time the approvers are reminded (ISO 8601)."
    )
    on_timeout: OnTimeoutType | None = strawberry.field(
        description="What happens at the due time; null with a deadline: NOTIFY."
    )
    user_id: strawberry.Private[int | None]
    role_id: strawberry.Private[int | None]
    form_id: strawberry.Private[int | None]
    references: strawberry.Private[ApprovalReferences | None] = None

    def _referenced(
        self, kind: str, pk: int, load: Callable[[], Any], build: Callable[[Any], Any]
    ) -> Any:
        """Build from the references loaded with the stage; else await a DataLoader."""
        if self.references is not None:
            known, output = self.references.output(kind, pk, build)
            if known:
                return output

        async def loaded() -> Any:
            obj = await load()
            return build(obj) if obj is not None else None

        return loaded()

    @strawberry.field(description="The approving user (user approvals).")
    def user(self, info: Info) -> UserType | None:
        if self.user_id is None:
            return None
        user_id = self.user_id
        return self._referenced(
            "user",
            user_id,
            lambda: context_of(info).loaders.user_by_id.load(user_id),
            UserType.from_user,
        )

    @strawberry.field(description="The approving role (role approvals).")
    def role(self, info: Info) -> RoleType | None:
        if self.role_id is None:
            return None
        role_id = self.role_id
        return self._referenced(
            "role",
            role_id,
            lambda: context_of(info).loaders.role_by_id.load(role_id),
            RoleType.from_role,
        )

    @strawberry.field(description="The form the approver must fill in, if any.")
    def required_form(self, info: Info) -> FormType | None:
        if self.form_id is None:
            return None
        form_id = self.form_id
        return self._referenced(
            "form",
            form_id,
            lambda: context_of(info).loaders.form_by_id.load(form_id),
            FormType.from_form,
        )

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], references: ApprovalReferences | None = None
    ) -> ApprovalItemType:
        strategy = data.get("role_selection_strategy")
        approval_type, approval_type_display = _approval_type(data["approval_type"])
        role_selection_strategy, strategy_display = (
            _strategy(strategy) if strategy else (None, None)
        )
        return cls(
            references=references,
            approval_type=approval_type,
            approval_type_display=approval_type_display,
            role_selection_strategy=role_selection_strategy,
            strategy_display=strategy_display,
            behaviour=_behaviour(data.get("behaviour", ApprovalBehaviour.APPROVE)),
            quorum_count=data.get("quorum_count"),
            percentage_required=data.get("percentage_required"),
            due_in=data.get("due_in"),
            remind_before=data.get("remind_before"),
            on_timeout=OnTimeoutType.from_dict(data.get("on_timeout")),
            user_id=data.get("approval_user"),
            role_id=data.get("user_role"),
            form_id=data.get("required_form"),
        )


@strawberry_django.type(Stage, name="Stage", description="One approval step of a pipeline.")
class StageType(relay.Node):
    database_id: int = strawberry_django.field(field_name="id", description=DATABASE_ID)
    _id = model_node_id("Stage")
    name_en: str = strawberry_django.field(description="English name.")
    name_ar: str = strawberry_django.field(description="Arabic name.")
    order: int = strawberry_django.field(description="Position within the pipeline.")
    color: str = strawberry_django.field(description="Display colour, e.g. #3498db.")

    @strawberry_django.field(
        description=(
            'Django lookups the object must match for the stage to run, e.g. {"amount__gte": '
            "10000}; null: it always runs. A stage whose condition is false is skipped."
        ),
        only=["condition"],
    )
    @in_memory
    def condition(self) -> JSON | None:
        return self.condition  # type: ignore[attr-defined,return-value]

    @strawberry_django.field(description="Number of approvals configured.", only=["approvals"])
    @in_memory
    def approvals_count(self) -> int:
        return len(self.approvals or [])

    @strawberry_django.field(
        description="The approvals configured on this stage, in order.", only=["approvals"]
    )
    @in_memory
    def approvals(self) -> list[ApprovalItemType]:
        references = getattr(self, "approval_references", None)
        return [ApprovalItemType.from_dict(item, references) for item in self.approvals or []]

    @classmethod
    def get_queryset(cls, queryset: QuerySet[Stage], info: Info, **kwargs: Any) -> QuerySet[Stage]:
        # Stage lists load the users, roles and forms their approvals name with their rows.
        return with_approval_references(queryset, info)

    @strawberry_django.field(
        description="The template stage this copy was cloned from.", only=["cloned_from_id"]
    )
    @in_memory
    def cloned_from_id(self) -> strawberry.ID | None:
        return optional_global_id("Stage", self.cloned_from_id)


def _has_name_column(model: Any) -> TypeGuard[type[Model]]:
    return model is not None and any(f.name == "name" for f in model._meta.concrete_fields)


def _department_name(info: Info) -> Any:
    """Return SQL reading the name of a pipeline's department inside the pipelines query."""
    model = department_model()
    if not _has_name_column(model):  # the setting changed since import: resolve one by one
        return Value(None, output_field=CharField())
    meta = model._meta
    key: Any = OuterRef("department_id")
    if isinstance(meta.pk, IntegerField):
        key = Cast(key, output_field=BigIntegerField())
    # Only rows pointing at the configured model: another model's ids might not cast.
    return Case(
        When(
            department_content_type__app_label=meta.app_label,
            department_content_type__model=meta.model_name,
            then=Subquery(model._default_manager.filter(pk=key).values("name")[:1]),
        ),
        default=Value(None),
        output_field=CharField(),
    )


def _department_hints() -> dict[str, Any]:
    """Join the department's name into the pipelines query when its model has a name column.

    Otherwise the optimizer prefetches the generic relation: one query per department model.
    """
    only = ["department_content_type_id", "department_id"]
    if _has_name_column(department_model()):
        return {"only": only, "annotate": {"department_name": _department_name}}
    return {"only": only, "prefetch_related": ["department"]}


@strawberry_django.type(
    Pipeline, name="Pipeline", description="A department or phase of a workflow."
)
class PipelineType(relay.Node):
    database_id: int = strawberry_django.field(field_name="id", description=DATABASE_ID)
    _id = model_node_id("Pipeline")
    name_en: str = strawberry_django.field(description="English name.")
    name_ar: str = strawberry_django.field(description="Arabic name.")
    order: int = strawberry_django.field(description="Position within the workflow.")
    stages: list[StageType] = strawberry_django.field(description="Stages in running order.")

    @strawberry_django.field(description="Number of stages.", prefetch_related=["stages"])
    @in_memory
    def stages_count(self, root: Pipeline) -> int:
        return loaded_or_in_thread(is_prefetched(root, "stages"), lambda: len(root.stages.all()))

    @strawberry_django.field(
        description="The department this pipeline belongs to.", **_department_hints()
    )
    @in_memory
    def department(self, root: Pipeline) -> DepartmentType | None:
        if not root.department_content_type_id or not root.department_id:
            return None
        name = getattr(root, "department_name", None)
        if name is not None:
            return DepartmentType(database_id=int(root.department_id), name=name)

        # A row of a model no structure marker watches (or a department gone): never cached.
        uncovered_read()

        def build() -> DepartmentType | None:
            department = root.department
            if department is None:
                return None
            return DepartmentType.from_department(department)

        return loaded_or_in_thread(Pipeline.department.is_cached(root), build)


@strawberry.type(name="PipelineBreakdown", description="Counts for one pipeline of a workflow.")
class PipelineBreakdownType:
    pipeline_name: str = strawberry.field(description="Pipeline name (English).")
    pipeline_order: int = strawberry.field(description="Pipeline position.")
    stages_count: int = strawberry.field(description="Number of stages.")
    approvals_count: int = strawberry.field(description="Number of approvals over its stages.")


@strawberry.type(name="WorkflowSummary", description="Totals over a workflow's structure.")
class WorkflowSummaryType:
    total_pipelines: int = strawberry.field(description="Number of pipelines.")
    total_stages: int = strawberry.field(description="Number of stages.")
    total_approvals: int = strawberry.field(description="Number of approvals over all stages.")
    pipeline_breakdown: list[PipelineBreakdownType] = strawberry.field(
        description="Counts per pipeline, in order."
    )


# "pipelines" must come before "pipelines__stages": the optimizer keeps string hints in order
# and swaps "pipelines" for its own Prefetch when the query also selects pipelines; a nested
# string first would make Django fail ("'pipelines' lookup was already seen with a different
# queryset").
STRUCTURE_HINTS = ["pipelines", "pipelines__stages"]


@strawberry_django.type(
    Workflow, name="Workflow", description="A workflow template (or an attachment's running copy)."
)
class WorkflowType(relay.Node):
    database_id: int = strawberry_django.field(field_name="id", description=DATABASE_ID)
    _id = model_node_id("Workflow")
    name_en: str = strawberry_django.field(description="English name.")
    name_ar: str = strawberry_django.field(description="Arabic name.")
    slug: str = strawberry_django.field(description="Identifier used by auto-start settings.")
    description: str = strawberry_django.field(description="Free text description.")
    is_active: bool = strawberry_django.field(
        description="Whether it can be attached: the seed's flag, true exactly when status is ACTIVE."
    )
    is_hidden: bool = strawberry_django.field(description="True for an attachment's running copy.")
    created_at: datetime = strawberry_django.field(description="Creation time.")
    modified_at: datetime = strawberry_django.field(description="Last change.")
    pipelines: list[PipelineType] = strawberry_django.field(description="Pipelines in order.")

    @strawberry_django.field(
        description="DRAFT, ACTIVE or ARCHIVED; only ACTIVE templates can be attached.",
        only=["status"],
    )
    @in_memory
    def status(self) -> WorkflowStatusEnum:
        return WorkflowStatusEnum(self.status)

    @strawberry_django.field(
        description="The template this workflow was cloned from.", only=["cloned_from_id"]
    )
    @in_memory
    def cloned_from_id(self) -> strawberry.ID | None:
        return optional_global_id("Workflow", self.cloned_from_id)

    @strawberry_django.field(description="Number of pipelines.", prefetch_related=["pipelines"])
    @in_memory
    def pipelines_count(self, root: Workflow) -> int:
        return loaded_or_in_thread(
            is_prefetched(root, "pipelines"), lambda: len(root.pipelines.all())
        )

    @strawberry_django.field(
        description="Number of stages over all pipelines.", prefetch_related=STRUCTURE_HINTS
    )
    @in_memory
    def total_stages_count(self, root: Workflow) -> int:
        return loaded_or_in_thread(
            _structure_is_prefetched(root),
            lambda: sum(len(p.stages.all()) for p in _structure(root)),
        )

    @strawberry_django.field(
        description="Totals over pipelines, stages and approvals.",
        prefetch_related=STRUCTURE_HINTS,
    )
    @in_memory
    def summary(self, root: Workflow) -> WorkflowSummaryType:
        return loaded_or_in_thread(_structure_is_prefetched(root), lambda: _summary(root))


def _structure_is_prefetched(workflow: Workflow) -> bool:
    return is_prefetched(workflow, "pipelines") and all(
        is_prefetched(pipeline, "stages") for pipeline in workflow.pipelines.all()
    )


def _structure(workflow: Workflow) -> list[Pipeline]:
    """Return the pipelines with their stages, prefetching them (two queries) if needed."""
    if not _structure_is_prefetched(workflow):
        prefetch_related_objects([workflow], "pipelines__stages")
    return list(workflow.pipelines.all())


def _summary(workflow: Workflow) -> WorkflowSummaryType:
    breakdown = [
        PipelineBreakdownType(
            pipeline_name=p.name_en,
            pipeline_order=p.order,
            stages_count=len(p.stages.all()),
            approvals_count=sum(len(s.approvals or []) for s in p.stages.all()),
        )
        for p in _structure(workflow)
    ]
    return WorkflowSummaryType(
        total_pipelines=len(breakdown),
        total_stages=sum(b.stages_count for b in breakdown),
        total_approvals=sum(b.approvals_count for b in breakdown),
        pipeline_breakdown=breakdown,
    )
