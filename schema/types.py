"""GraphQL object types. Plain relations are fetched by the optimizer; computed fields by DataLoaders."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, TypeGuard, TypeVar, cast

import strawberry
import strawberry_django
from asgiref.sync import sync_to_async
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
from strawberry.scalars import JSON
from strawberry.types import Info
from strawberry.utils.inspect import in_async_context

from backend.workflows.approval_config import form_schema
from backend.workflows.constants import (
    ApprovalBehaviour,
    ApprovalType,
    AttachmentStatus,
    EventType,
    RoleSelectionStrategy,
    WorkflowStatus,
)
from backend.workflows.engine_settings import department_model
from backend.workflows.exceptions import WorkflowValidationError
from backend.workflows.models import Pipeline, Stage, Workflow, WorkflowAttachment, WorkflowEvent
from backend.workflows.selectors import attachment_snapshot, compute_next_stage, compute_progress
from backend.workflows.services.running import available_actions
from backend.workflows.transitions import Action
from schema.approval_references import ApprovalReferences, with_approval_references
from schema.context import context_of
from schema.errors import query_error

_Result = TypeVar("_Result")
_Resolver = TypeVar("_Resolver", bound=Callable[..., Any])


def in_memory(resolver: _Resolver) -> _Resolver:
    """Mark a resolver that never queries, so strawberry-django calls it inline.

    strawberry-django runs every other sync resolver through ``sync_to_async`` under async
    execution: one thread hop per object, which dominated the time of large nested lists.
    """
    resolver.is_async_safe = True  # type: ignore[attr-defined]
    return resolver


def loaded_or_in_thread(is_loaded: bool, compute: Callable[[], _Result]) -> Any:
    """Return ``compute()`` when its rows are loaded; else an awaitable running it in a thread.

    Optimized queries prefetch what the resolver reads, so it runs inline; an object the
    optimizer never saw (e.g. a mutation payload) still needs the database.
    """
    if is_loaded or not in_async_context():
        return compute()
    return sync_to_async(compute)()


def is_prefetched(instance: Any, *relations: str) -> bool:
    """Tell whether every one of ``relations`` of ``instance`` was prefetched."""
    cache = getattr(instance, "_prefetched_objects_cache", {})
    return all(relation in cache for relation in relations)


def _enum(choices: Any, name: str, description: str) -> Any:
    # A functional Enum: mypy cannot see its members, so no overload of strawberry.enum matches.
    return strawberry.enum(  # type: ignore[call-overload]
        Enum(name, {value.upper(): value for value in choices.values}),
        name=name,
        description=description,
    )


AttachmentStatusEnum = _enum(
    AttachmentStatus, "AttachmentStatus", "Where a workflow attachment stands."
)
EventTypeEnum = _enum(
    EventType,
    "WorkflowEventType",
    "What happened to an attachment. ACTION_FAILED: a stored action raised; "
    "STATUS_NOT_WRITTEN: the business object had no configured status field when the "
    "workflow finished (it finished anyway).",
)
ApprovalTypeEnum = _enum(ApprovalType, "ApprovalType", "Who approves: a user or a role's members.")
StrategyEnum = _enum(
    RoleSelectionStrategy, "RoleSelectionStrategy", "How the members of a role share a step."
)
BehaviourEnum = _enum(
    ApprovalBehaviour, "ApprovalBehaviour", "What an approver does to complete a step."
)
WorkflowStatusEnum = _enum(
    WorkflowStatus,
    "WorkflowStatus",
    "Life cycle of a template: DRAFT (being built, cannot be attached), ACTIVE (can be "
    "attached) or ARCHIVED (retired: readable, its running copies go on, cannot be attached).",
)


# Generated from the transition policy's actions: a new action appears here by itself.
AvailableAction = _enum(Action, "AvailableAction", "A decision the viewer may take now.")


@strawberry.type(name="User", description="A person (or company account) of the viewer's company.")
class UserType:
    id: strawberry.ID = strawberry.field(description="User id.")
    username: str = strawberry.field(description="Login name.")
    display_name: str = strawberry.field(description="Full name, or the username.")
    email: str = strawberry.field(description="E-mail address.")

    @classmethod
    def from_user(cls, user: Any) -> UserType | None:
        if user is None:
            return None
        return cls(
            id=strawberry.ID(str(user.pk)),
            username=user.username,
            display_name=user.get_full_name() or user.first_name or user.username,
            email=user.email or "",
        )


@strawberry.type(name="Role", description="A role (a Django group) whose members approve together.")
class RoleType:
    id: strawberry.ID = strawberry.field(description="Role id.")
    name: str = strawberry.field(description="Role name.")


@strawberry.type(name="Form", description="A form an approver must fill in.")
class FormType:
    id: strawberry.ID = strawberry.field(description="Form id.")
    name: str = strawberry.field(description="Form name.")
    schema: JSON = strawberry.field(description="Field definitions: {fields: [{name, required}]}.")


@strawberry.type(name="Department", description="The department a pipeline belongs to.")
class DepartmentType:
    id: strawberry.ID = strawberry.field(description="Department id.")
    name: str = strawberry.field(description="Department name.")


@strawberry.type(name="Approval", description="One approval requirement of a stage.")
class ApprovalItemType:
    approval_type: ApprovalTypeEnum = strawberry.field(description="user or role.")  # type: ignore[valid-type]
    approval_type_display: str = strawberry.field(description="Readable approval type.")
    role_selection_strategy: StrategyEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="How the role's members share the step (role approvals only)."
    )
    strategy_display: str | None = strawberry.field(description="Readable strategy.")
    behaviour: BehaviourEnum = strawberry.field(description="What the approver must do.")  # type: ignore[valid-type]
    quorum_count: int | None = strawberry.field(description="Approvals needed (quorum strategy).")
    percentage_required: float | None = strawberry.field(
        description="Share of members needed (percentage strategy)."
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
            lambda role: RoleType(id=strawberry.ID(str(role.pk)), name=str(role)),
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
            lambda form: FormType(
                id=strawberry.ID(str(form.pk)),
                name=str(getattr(form, "name", form)),
                schema=cast(JSON, form_schema(form)),
            ),
        )

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], references: ApprovalReferences | None = None
    ) -> ApprovalItemType:
        strategy = data.get("role_selection_strategy")
        return cls(
            references=references,
            approval_type=ApprovalTypeEnum(data["approval_type"]),
            approval_type_display=ApprovalType(data["approval_type"]).label,
            role_selection_strategy=StrategyEnum(strategy) if strategy else None,
            strategy_display=RoleSelectionStrategy(strategy).label if strategy else None,
            behaviour=BehaviourEnum(data.get("behaviour", ApprovalBehaviour.APPROVE)),
            quorum_count=data.get("quorum_count"),
            percentage_required=data.get("percentage_required"),
            user_id=data.get("approval_user"),
            role_id=data.get("user_role"),
            form_id=data.get("required_form"),
        )


@strawberry_django.type(Stage, name="Stage", description="One approval step of a pipeline.")
class StageType:
    id: strawberry.ID = strawberry_django.field(description="Stage id.")
    name_en: str = strawberry_django.field(description="English name.")
    name_ar: str = strawberry_django.field(description="Arabic name.")
    order: int = strawberry_django.field(description="Position within the pipeline.")
    color: str = strawberry_django.field(description="Display colour, e.g. #3498db.")

    @strawberry_django.field(description="Number of approvals configured.", only=["approvals"])
    @in_memory
    def approvals_count(self) -> int:
        return len(self.approvals or [])  # type: ignore[attr-defined]

    @strawberry_django.field(
        description="The approvals configured on this stage, in order.", only=["approvals"]
    )
    @in_memory
    def approvals(self) -> list[ApprovalItemType]:
        references = getattr(self, "approval_references", None)
        return [ApprovalItemType.from_dict(item, references) for item in self.approvals or []]  # type: ignore[attr-defined]

    @classmethod
    def get_queryset(cls, queryset: QuerySet[Stage], info: Info, **kwargs: Any) -> QuerySet[Stage]:
        # Stage lists load the users, roles and forms their approvals name with their rows.
        return with_approval_references(queryset, info)

    @strawberry_django.field(
        description="The template stage this copy was cloned from.", only=["cloned_from_id"]
    )
    @in_memory
    def cloned_from_id(self) -> strawberry.ID | None:
        value = self.cloned_from_id  # type: ignore[attr-defined]
        return strawberry.ID(str(value)) if value else None


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
    if _has_name_column(department_model()):
        return {"annotate": {"department_name": _department_name}}
    return {"prefetch_related": ["department"]}


@strawberry_django.type(
    Pipeline, name="Pipeline", description="A department or phase of a workflow."
)
class PipelineType:
    id: strawberry.ID = strawberry_django.field(description="Pipeline id.")
    name_en: str = strawberry_django.field(description="English name.")
    name_ar: str = strawberry_django.field(description="Arabic name.")
    order: int = strawberry_django.field(description="Position within the workflow.")
    stages: list[StageType] = strawberry_django.field(description="Stages in running order.")

    @strawberry_django.field(description="Number of stages.", prefetch_related=["stages"])
    @in_memory
    def stages_count(self) -> int:
        return loaded_or_in_thread(
            is_prefetched(self, "stages"),
            lambda: len(self.stages.all()),  # type: ignore[attr-defined]
        )

    @strawberry_django.field(
        description="The department this pipeline belongs to.", **_department_hints()
    )
    @in_memory
    def department(self) -> DepartmentType | None:
        if not self.department_content_type_id or not self.department_id:  # type: ignore[attr-defined]
            return None
        name = getattr(self, "department_name", None)
        if name is not None:
            return DepartmentType(id=strawberry.ID(str(self.department_id)), name=name)  # type: ignore[attr-defined]

        def build() -> DepartmentType | None:
            department = self.department  # type: ignore[attr-defined]
            if department is None:
                return None
            return DepartmentType(id=strawberry.ID(str(department.pk)), name=str(department))

        return loaded_or_in_thread(Pipeline.department.is_cached(self), build)  # type: ignore[arg-type]


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
class WorkflowType:
    id: strawberry.ID = strawberry_django.field(description="Workflow id.")
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
    def status(self) -> WorkflowStatusEnum:  # type: ignore[valid-type]
        return WorkflowStatusEnum(self.status)  # type: ignore[attr-defined]

    @strawberry_django.field(
        description="The template this workflow was cloned from.", only=["cloned_from_id"]
    )
    @in_memory
    def cloned_from_id(self) -> strawberry.ID | None:
        value = self.cloned_from_id  # type: ignore[attr-defined]
        return strawberry.ID(str(value)) if value else None

    @strawberry_django.field(description="Number of pipelines.", prefetch_related=["pipelines"])
    @in_memory
    def pipelines_count(self) -> int:
        return loaded_or_in_thread(
            is_prefetched(self, "pipelines"),
            lambda: len(self.pipelines.all()),  # type: ignore[attr-defined]
        )

    @strawberry_django.field(
        description="Number of stages over all pipelines.", prefetch_related=STRUCTURE_HINTS
    )
    @in_memory
    def total_stages_count(self) -> int:
        workflow = cast(Workflow, self)  # strawberry-django passes the model instance
        return loaded_or_in_thread(
            _structure_is_prefetched(workflow),
            lambda: sum(len(p.stages.all()) for p in _structure(workflow)),
        )

    @strawberry_django.field(
        description="Totals over pipelines, stages and approvals.", prefetch_related=STRUCTURE_HINTS
    )
    @in_memory
    def summary(self) -> WorkflowSummaryType:
        return loaded_or_in_thread(_structure_is_prefetched(self), lambda: _summary(self))  # type: ignore[arg-type]


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


@strawberry.type(name="Progress", description="Stages fully approved out of all stages.")
class ProgressType:
    percentage: float = strawberry.field(description="0 at start, 100 only once completed.")
    completed_stages: int = strawberry.field(description="Stages fully approved.")
    total_stages: int = strawberry.field(description="All stages of the running workflow.")


@strawberry.type(name="Target", description="The business object a workflow runs on.")
class TargetType:
    model: str = strawberry.field(description="app_label.modelname, e.g. demo.purchaserequest.")
    object_id: strawberry.ID = strawberry.field(description="Primary key of the object.")
    display: str = strawberry.field(description="The object's text representation.")


@strawberry.type(name="CurrentApprover", description="Someone who can act on the current step.")
class CurrentApproverType:
    user: UserType = strawberry.field(description="The approver.")
    role: RoleType | None = strawberry.field(description="The role they act for, if any.")
    is_delegated: bool = strawberry.field(description="True when the step was delegated to them.")
    is_checked_in: bool = strawberry.field(
        description="True after a check-in on a check-in/verify step."
    )
    behaviour: BehaviourEnum = strawberry.field(description="What they must do.")  # type: ignore[valid-type]


@strawberry_django.type(
    WorkflowAttachment,
    name="WorkflowAttachment",
    description="A workflow running on one business object.",
)
class WorkflowAttachmentType:
    id: strawberry.ID = strawberry_django.field(description="Attachment id.")
    workflow: WorkflowType = strawberry_django.field(
        description="The running copy of the workflow."
    )
    current_pipeline: PipelineType | None = strawberry_django.field(
        description="Pipeline of the current stage."
    )
    current_stage: StageType | None = strawberry_django.field(
        description="The stage waiting for approval."
    )
    started_at: datetime | None = strawberry_django.field(description="When it started.")
    completed_at: datetime | None = strawberry_django.field(
        description="When it finished (completed, rejected or cancelled)."
    )
    metadata: JSON = strawberry_django.field(description="Free metadata given at attach time.")
    created_at: datetime = strawberry_django.field(description="When it was attached.")

    @strawberry_django.field(description="Current status.", only=["status"])
    @in_memory
    def status(self) -> AttachmentStatusEnum:  # type: ignore[valid-type]
        return AttachmentStatusEnum(self.status)  # type: ignore[attr-defined]

    @strawberry_django.field(description="Who started it.", select_related=["started_by"])
    @in_memory
    def started_by(self) -> UserType | None:
        return loaded_or_in_thread(
            self.started_by_id is None or WorkflowAttachment.started_by.is_cached(self),  # type: ignore[attr-defined,arg-type]
            lambda: UserType.from_user(self.started_by),  # type: ignore[attr-defined]
        )

    @strawberry_django.field(description="Progress through the stages.")
    async def progress(self, info: Info) -> ProgressType:
        stages = await context_of(info).loaders.stages_by_workflow.load(self.workflow_id)  # type: ignore[attr-defined]
        progress = compute_progress(self, stages)  # type: ignore[arg-type]
        return ProgressType(
            percentage=progress.percentage,
            completed_stages=progress.completed_stages,
            total_stages=progress.total_stages,
        )

    @strawberry_django.field(description="The stage after the current one; null once finished.")
    async def next_stage(self, info: Info) -> StageType | None:
        stages = await context_of(info).loaders.stages_by_workflow.load(self.workflow_id)  # type: ignore[attr-defined]
        return compute_next_stage(self, stages)  # type: ignore[arg-type,return-value]

    @strawberry_django.field(description="The business object.")
    async def target(self, info: Info) -> TargetType:
        obj = await context_of(info).loaders.target_by_attachment.load(
            (self.content_type_id, self.object_id)  # type: ignore[attr-defined]
        )
        content_type = await _content_type(self.content_type_id)  # type: ignore[attr-defined]
        return TargetType(
            model=f"{content_type.app_label}.{content_type.model}",
            object_id=strawberry.ID(self.object_id),  # type: ignore[attr-defined]
            display=str(obj) if obj is not None else "(deleted)",
        )

    @strawberry_django.field(description="Everyone who can act on the current step now.")
    async def current_approvers(self, info: Info) -> list[CurrentApproverType]:
        if self.status != AttachmentStatus.IN_PROGRESS:  # type: ignore[attr-defined]
            return []
        context = context_of(info)
        steps = await context.loaders.current_steps_by_attachment.load(
            (self.content_type_id, self.object_id)  # type: ignore[attr-defined]
        )
        result = []
        for step in steps:
            if step.assignee is None:
                continue
            role = None
            if step.role_id is not None:
                role_object = await context.loaders.role_by_id.load(step.role_id)
                if role_object is not None:
                    role = RoleType(id=strawberry.ID(str(role_object.pk)), name=str(role_object))
            result.append(
                CurrentApproverType(
                    user=UserType.from_user(step.assignee),  # type: ignore[arg-type]
                    role=role,
                    is_delegated=step.delegated_from is not None,
                    is_checked_in=step.is_checked_in,
                    behaviour=BehaviourEnum(step.behaviour),
                )
            )
        return result

    @strawberry_django.field(
        description=(
            "What the viewer may do on this attachment now, read from the engine's declared "
            "transition policy: exactly the decisions the server would accept."
        )
    )
    async def available_actions(self, info: Info) -> list[AvailableAction]:  # type: ignore[valid-type]
        context = context_of(info)
        if not context.is_authenticated:
            return []
        steps = (
            await context.loaders.current_steps_by_attachment.load(
                (self.content_type_id, self.object_id)  # type: ignore[attr-defined]
            )
            if self.status == AttachmentStatus.IN_PROGRESS  # type: ignore[attr-defined]
            else []
        )
        permissions = await context.viewer_permissions()
        actions = available_actions(
            attachment=self,  # type: ignore[arg-type]
            user=context.user,
            steps=steps,
            permissions=permissions,
        )
        return [AvailableAction(action.value) for action in actions]

    @strawberry_django.field(description="The audit trail, oldest first.")
    async def events(
        self,
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="Page size (at most 100, the default).")
        ] = strawberry.UNSET,
        after: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Return the events after this cursor (an event id)."),
        ] = strawberry.UNSET,
    ) -> WorkflowEventConnection:
        events = await context_of(info).loaders.events_by_attachment.load(self.pk)  # type: ignore[attr-defined]
        return WorkflowEventConnection.slice(events, first=first, after=after)


async def _content_type(content_type_id: int) -> Any:
    from django.contrib.contenttypes.models import ContentType

    return await sync_to_async(ContentType.objects.get_for_id)(content_type_id)


def _stage_ref(stage: Stage | None) -> StageRefType | None:
    if stage is None:
        return None
    return StageRefType(
        id=strawberry.ID(str(stage.pk)), name_en=stage.name_en, name_ar=stage.name_ar
    )


@strawberry.type(name="StageRef", description="A stage named in an event.")
class StageRefType:
    id: strawberry.ID = strawberry.field(description="Stage id.")
    name_en: str = strawberry.field(description="English name.")
    name_ar: str = strawberry.field(description="Arabic name.")


@strawberry.type(name="PipelineRef", description="A pipeline named in an event.")
class PipelineRefType:
    id: strawberry.ID = strawberry.field(description="Pipeline id.")
    name_en: str = strawberry.field(description="English name.")


def _pipeline_ref(pipeline: Pipeline | None) -> PipelineRefType | None:
    if pipeline is None:
        return None
    return PipelineRefType(id=strawberry.ID(str(pipeline.pk)), name_en=pipeline.name_en)


@strawberry.type(
    name="EventAttachment", description="The state of an attachment, as an event reports it."
)
class EventAttachmentType:
    id: strawberry.ID = strawberry.field(description="Attachment id.")
    status: AttachmentStatusEnum = strawberry.field(description="Status.")  # type: ignore[valid-type]
    current_stage: StageRefType | None = strawberry.field(description="Current stage.")
    current_pipeline: PipelineRefType | None = strawberry.field(description="Current pipeline.")
    progress: ProgressType = strawberry.field(description="Progress through the stages.")
    open_actions: list[AvailableAction] = strawberry.field(  # type: ignore[valid-type]
        description=(
            "The decisions the attachment accepts in this state, from whoever the transition "
            "policy allows (empty once it has finished). The same for every subscriber: the "
            "viewer's own choice is `WorkflowAttachment.availableActions`."
        )
    )

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> EventAttachmentType:
        stage, pipeline = data.get("current_stage"), data.get("current_pipeline")
        progress = data["progress"]
        total, completed = progress["total_stages"], progress["completed_stages"]
        return cls(
            id=strawberry.ID(str(data["id"])),
            status=AttachmentStatusEnum(data["status"]),
            current_stage=StageRefType(
                id=strawberry.ID(str(stage["id"])),
                name_en=stage["name_en"],
                name_ar=stage["name_ar"],
            )
            if stage
            else None,
            current_pipeline=PipelineRefType(
                id=strawberry.ID(str(pipeline["id"])), name_en=pipeline["name_en"]
            )
            if pipeline
            else None,
            progress=ProgressType(
                percentage=round(100.0 * completed / total, 2) if total else 0.0,
                completed_stages=completed,
                total_stages=total,
            ),
            # Messages published before the field existed carry none.
            open_actions=[AvailableAction(value) for value in data.get("open_actions", [])],
        )


def _user_from_payload(data: dict[str, Any] | None) -> UserType | None:
    if not data:
        return None
    return UserType(
        id=strawberry.ID(str(data["id"])),
        username=data["username"],
        display_name=data["display_name"],
        email=data["email"],
    )


def _stage_from_payload(data: dict[str, Any] | None) -> StageRefType | None:
    if not data:
        return None
    return StageRefType(
        id=strawberry.ID(str(data["id"])), name_en=data["name_en"], name_ar=data["name_ar"]
    )


def _pipeline_from_payload(data: dict[str, Any] | None) -> PipelineRefType | None:
    if not data:
        return None
    return PipelineRefType(id=strawberry.ID(str(data["id"])), name_en=data["name_en"])


# What a failed action's audit row tells only workflow managers: the exception text may
# hold internal details (a host name, a query), the paths name server code.
MANAGER_ONLY_FAILURE_DETAILS = ("error", "function_path")


def _action_failure_details(event: WorkflowEventType, info: Info) -> JSON:
    from backend.workflows.selectors import can_manage_workflows

    context = context_of(info)
    if context.is_authenticated and can_manage_workflows(context.user, context.company_id):
        return JSON(event.raw_details)
    shown = {
        key: value
        for key, value in event.raw_details.items()
        if key not in MANAGER_ONLY_FAILURE_DETAILS
    }
    if "skipped" in shown:
        shown["skipped"] = [{"action_id": item.get("action_id")} for item in shown["skipped"]]
    return JSON(shown)


@strawberry.type(
    name="WorkflowEvent",
    description="One row of an attachment's audit trail; subscriptions push the same shape.",
)
class WorkflowEventType:
    id: strawberry.ID = strawberry.field(description="Event id (increasing).")
    type: EventTypeEnum = strawberry.field(description="What happened.")  # type: ignore[valid-type]
    attachment_id: strawberry.ID = strawberry.field(description="The attachment it happened to.")
    from_stage: StageRefType | None = strawberry.field(description="Stage before.")
    to_stage: StageRefType | None = strawberry.field(description="Stage after.")
    from_pipeline: PipelineRefType | None = strawberry.field(description="Pipeline before.")
    to_pipeline: PipelineRefType | None = strawberry.field(description="Pipeline after.")
    actor: UserType | None = strawberry.field(description="Who acted.")
    delegate: UserType | None = strawberry.field(description="Who received a delegation.")
    reason: str = strawberry.field(description="Reason or comment.")
    form_data: JSON | None = strawberry.field(description="Form data submitted with an approval.")

    @strawberry.field(
        description="Extra details (e.g. a failed action: its error and function path are "
        "shown to workflow managers only)."
    )
    def details(self, info: Info) -> JSON:
        if cast(Enum, self.type).value != EventType.ACTION_FAILED:
            return JSON(self.raw_details)
        return loaded_or_in_thread(False, lambda: _action_failure_details(self, info))

    occurred_at: datetime = strawberry.field(description="When it happened.")
    raw_details: strawberry.Private[dict[str, Any]] = dataclasses.field(default_factory=dict)
    snapshot: strawberry.Private[dict[str, Any] | None] = None

    @strawberry.field(
        description="The attachment's state right after the event (pushed events), "
        "or its current state (queried events)."
    )
    async def attachment(self, info: Info) -> EventAttachmentType | None:
        if self.snapshot is not None:
            return EventAttachmentType.from_snapshot(self.snapshot)
        loaders = context_of(info).loaders
        attachment = await loaders.attachment_by_id.load(int(self.attachment_id))
        if attachment is None:
            return None
        stages = await loaders.stages_by_workflow.load(attachment.workflow_id)
        return EventAttachmentType.from_snapshot(attachment_snapshot(attachment, stages))

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> WorkflowEventType:
        """Build the event from a channel-layer message (no database access)."""
        return cls(
            id=strawberry.ID(str(data["id"])),
            type=EventTypeEnum(data["event_type"]),
            attachment_id=strawberry.ID(str(data["attachment_id"])),
            from_stage=_stage_from_payload(data["from_stage"]),
            to_stage=_stage_from_payload(data["to_stage"]),
            from_pipeline=_pipeline_from_payload(data["from_pipeline"]),
            to_pipeline=_pipeline_from_payload(data["to_pipeline"]),
            actor=_user_from_payload(data["actor"]),
            delegate=_user_from_payload(data["delegate"]),
            reason=data["reason"],
            form_data=data["form_data"],
            raw_details=data["details"],
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            snapshot=data["attachment"],
        )

    @classmethod
    def from_model(cls, event: WorkflowEvent) -> WorkflowEventType:
        return cls(
            id=strawberry.ID(str(event.pk)),
            type=EventTypeEnum(event.event_type),
            attachment_id=strawberry.ID(str(event.attachment_id)),
            from_stage=_stage_ref(event.from_stage),
            to_stage=_stage_ref(event.to_stage),
            from_pipeline=_pipeline_ref(event.from_pipeline),
            to_pipeline=_pipeline_ref(event.to_pipeline),
            actor=UserType.from_user(event.actor),
            delegate=UserType.from_user(event.delegate),
            reason=event.reason,
            form_data=event.form_data,
            raw_details=event.details or {},
            occurred_at=event.occurred_at,
        )


@strawberry.type(name="EventPageInfo", description="Where a page of audit events ends.")
class PageInfoType:
    has_next_page: bool = strawberry.field(description="More items follow.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` to get the next page.")


@strawberry.type(name="WorkflowEventConnection", description="A page of audit events.")
class WorkflowEventConnection:
    total_count: int = strawberry.field(description="All events of the attachment.")
    nodes: list[WorkflowEventType] = strawberry.field(description="The events of this page.")
    page_info: PageInfoType = strawberry.field(description="Pagination data.")

    @classmethod
    def slice(
        cls, events: list[WorkflowEvent], *, first: Any, after: Any
    ) -> WorkflowEventConnection:
        limit = 100 if first in (None, strawberry.UNSET) else max(0, min(int(first), 100))
        start = 0
        if after not in (None, strawberry.UNSET):
            try:
                after_id = int(after)
            except (TypeError, ValueError):
                raise query_error(
                    WorkflowValidationError(
                        "Argument 'after' is not a valid cursor.", field="after"
                    )
                ) from None
            start = next((i for i, e in enumerate(events) if e.pk > after_id), len(events))
        page = events[start : start + limit]
        return cls(
            total_count=len(events),
            nodes=[WorkflowEventType.from_model(e) for e in page],
            page_info=PageInfoType(
                has_next_page=start + limit < len(events),
                end_cursor=str(page[-1].pk) if page else None,
            ),
        )
