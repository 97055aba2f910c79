"""Typed GraphQL views of the seed's detailed-data dicts (structure, approval summary, statistics).

Each type is built from the dict of the matching ``backend.workflows.services`` function, so
the GraphQL fields and the Python API never disagree.
"""

from __future__ import annotations

from typing import Any

import strawberry

from schema.global_ids import global_id


@strawberry.type(
    name="ApprovalTypeCounts",
    description="Approvals counted by approval type: one count per value of ApprovalType.",
)
class ApprovalTypeCountsType:
    role: int = strawberry.field(description="Approvals by the members of a role.")
    user: int = strawberry.field(description="Approvals by a named user.")

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> ApprovalTypeCountsType:
        # The seed's "self-approved" and "assigned" keys stay in the Python dicts (always 0:
        # those approval types cannot be configured here); the API counts only real types.
        return cls(role=data["role"], user=data["user"])


@strawberry.type(
    name="StrategyCounts",
    description="Approvals counted by role selection strategy (the keys of the seed's by_strategy).",
)
class StrategyCountsType:
    anyone: int = strawberry.field(description="Any member of the role may approve.")
    consensus: int = strawberry.field(description="Every member of the role must approve.")
    round_robin: int = strawberry.field(description="The members of the role take turns.")
    quorum: int = strawberry.field(description="A set number of members must approve.")
    majority: int = strawberry.field(description="More than half of the members must approve.")
    percentage: int = strawberry.field(description="A set share of the members must approve.")

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> StrategyCountsType:
        return cls(
            anyone=data["anyone"],
            consensus=data["consensus"],
            round_robin=data["round_robin"],
            quorum=data["quorum"],
            majority=data["majority"],
            percentage=data["percentage"],
        )


@strawberry.type(name="StageStructure", description="One stage of a workflow's pipeline structure.")
class StageStructureType:
    id: strawberry.ID = strawberry.field(description="Stage id.")
    name_en: str = strawberry.field(description="English name.")
    name_ar: str = strawberry.field(description="Arabic name.")
    order: int = strawberry.field(description="Position in its pipeline.")
    is_active: bool = strawberry.field(
        description="False when the attachment running this copy skipped the stage (its "
        "condition was false when it would have opened); a template's stages are active."
    )
    approvals_count: int = strawberry.field(description="Number of approvals the stage requires.")
    approval_types: ApprovalTypeCountsType = strawberry.field(
        description="The stage's approvals counted by type."
    )
    color: str = strawberry.field(description="Display colour, e.g. #3498db.")
    has_forms: bool = strawberry.field(
        description="Whether an approval of the stage requires a form."
    )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageStructureType:
        return cls(
            id=global_id("Stage", data["id"]),
            name_en=data["name_en"],
            name_ar=data["name_ar"],
            order=data["order"],
            is_active=data["is_active"],
            approvals_count=data["approvals_count"],
            approval_types=ApprovalTypeCountsType.from_dict(data["approval_types"]),
            color=data["color"],
            has_forms=data["has_forms"],
        )


@strawberry.type(name="PipelineStructure", description="One pipeline of a workflow's structure.")
class PipelineStructureType:
    id: strawberry.ID = strawberry.field(description="Pipeline id.")
    name_en: str = strawberry.field(description="English name.")
    name_ar: str = strawberry.field(description="Arabic name.")
    order: int = strawberry.field(description="Position in the workflow.")
    department_name: str | None = strawberry.field(
        description="Name of the pipeline's department (the seed's 'department'), if any."
    )
    stages: list[StageStructureType] = strawberry.field(description="Stages in running order.")
    stages_count: int = strawberry.field(description="Number of stages.")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineStructureType:
        return cls(
            id=global_id("Pipeline", data["id"]),
            name_en=data["name_en"],
            name_ar=data["name_ar"],
            order=data["order"],
            department_name=data["department"],
            stages=[StageStructureType.from_dict(stage) for stage in data["stages"]],
            stages_count=data["stages_count"],
        )


@strawberry.type(
    name="WorkflowPipelineStructure",
    description="A workflow's pipelines and stages, e.g. for drawing it (get_workflow_pipeline_structure).",
)
class WorkflowPipelineStructureType:
    workflow_id: strawberry.ID = strawberry.field(description="Workflow id.")
    workflow_name: str = strawberry.field(description="English name of the workflow.")
    pipelines: list[PipelineStructureType] = strawberry.field(
        description="Pipelines in running order."
    )
    total_pipelines: int = strawberry.field(description="Number of pipelines.")
    total_stages: int = strawberry.field(description="Number of stages in all pipelines.")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkflowPipelineStructureType:
        return cls(
            workflow_id=global_id("Workflow", data["workflow_id"]),
            workflow_name=data["workflow_name"],
            pipelines=[PipelineStructureType.from_dict(p) for p in data["pipelines"]],
            total_pipelines=data["total_pipelines"],
            total_stages=data["total_stages"],
        )


@strawberry.type(name="StageApprovalBreakdown", description="The approvals of one stage.")
class StageApprovalBreakdownType:
    stage_name: str = strawberry.field(description="English name of the stage.")
    stage_order: int = strawberry.field(description="Position in its pipeline.")
    approvals_count: int = strawberry.field(description="Number of approvals the stage requires.")
    has_forms: bool = strawberry.field(
        description="Whether an approval of the stage requires a form."
    )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageApprovalBreakdownType:
        return cls(
            stage_name=data["stage_name"],
            stage_order=data["stage_order"],
            approvals_count=data["approvals_count"],
            has_forms=data["has_forms"],
        )


@strawberry.type(
    name="PipelineApprovalBreakdown", description="The approvals of one pipeline, stage by stage."
)
class PipelineApprovalBreakdownType:
    pipeline_name: str = strawberry.field(description="English name of the pipeline.")
    pipeline_order: int = strawberry.field(description="Position in the workflow.")
    stages: list[StageApprovalBreakdownType] = strawberry.field(
        description="Stages in running order."
    )
    total_approvals: int = strawberry.field(description="Number of approvals in the pipeline.")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineApprovalBreakdownType:
        return cls(
            pipeline_name=data["pipeline_name"],
            pipeline_order=data["pipeline_order"],
            stages=[StageApprovalBreakdownType.from_dict(stage) for stage in data["stages"]],
            total_approvals=data["total_approvals"],
        )


@strawberry.type(
    name="WorkflowApprovalSummary",
    description="A workflow's approvals counted by type, strategy and pipeline (get_workflow_approval_summary).",
)
class WorkflowApprovalSummaryType:
    total_approvals: int = strawberry.field(description="Number of approvals in the workflow.")
    by_type: ApprovalTypeCountsType = strawberry.field(description="Approvals counted by type.")
    by_strategy: StrategyCountsType = strawberry.field(
        description="Approvals counted by role selection strategy."
    )
    stages_with_forms: int = strawberry.field(
        description="Number of stages where an approval requires a form."
    )
    pipeline_breakdown: list[PipelineApprovalBreakdownType] = strawberry.field(
        description="Approvals per pipeline, in running order."
    )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkflowApprovalSummaryType:
        return cls(
            total_approvals=data["total_approvals"],
            by_type=ApprovalTypeCountsType.from_dict(data["by_type"]),
            by_strategy=StrategyCountsType.from_dict(data["by_strategy"]),
            stages_with_forms=data["stages_with_forms"],
            pipeline_breakdown=[
                PipelineApprovalBreakdownType.from_dict(p) for p in data["pipeline_breakdown"]
            ],
        )


@strawberry.type(
    name="WorkflowStatisticsOverview",
    description="Totals over the workflow templates (running copies are never counted).",
)
class WorkflowStatisticsOverviewType:
    total_workflows: int = strawberry.field(description="Number of templates.")
    active_workflows: int = strawberry.field(description="Number of active templates.")
    inactive_workflows: int = strawberry.field(description="Number of inactive templates.")
    total_pipelines: int = strawberry.field(description="Number of pipelines of the templates.")
    total_stages: int = strawberry.field(description="Number of stages of the templates.")
    total_approvals: int = strawberry.field(description="Number of approvals of the templates.")
    avg_pipelines_per_workflow: float = strawberry.field(
        description="Pipelines per template, rounded to 2 decimals (0 without templates)."
    )
    avg_stages_per_workflow: float = strawberry.field(
        description="Stages per template, rounded to 2 decimals (0 without templates)."
    )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkflowStatisticsOverviewType:
        return cls(
            total_workflows=data["total_workflows"],
            active_workflows=data["active_workflows"],
            inactive_workflows=data["inactive_workflows"],
            total_pipelines=data["total_pipelines"],
            total_stages=data["total_stages"],
            total_approvals=data["total_approvals"],
            avg_pipelines_per_workflow=float(data["avg_pipelines_per_workflow"]),
            avg_stages_per_workflow=float(data["avg_stages_per_workflow"]),
        )


@strawberry.type(name="CompanyWorkflowStatistics", description="Template counts of one company.")
class CompanyWorkflowStatisticsType:
    company: str = strawberry.field(
        description="The company account's username (the seed's by_company key)."
    )
    workflows: int = strawberry.field(description="Number of templates.")
    pipelines: int = strawberry.field(description="Number of pipelines of the templates.")
    stages: int = strawberry.field(description="Number of stages of the templates.")
    approvals: int = strawberry.field(description="Number of approvals of the templates.")


@strawberry.type(
    name="WorkflowStatistics",
    description="Counts of a company's workflow templates, active or not (get_workflow_statistics).",
)
class WorkflowStatisticsType:
    overview: WorkflowStatisticsOverviewType = strawberry.field(description="Totals.")
    by_company: list[CompanyWorkflowStatisticsType] = strawberry.field(
        description="Totals per company (the seed's by_company dict as a list)."
    )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkflowStatisticsType:
        return cls(
            overview=WorkflowStatisticsOverviewType.from_dict(data["overview"]),
            by_company=[
                CompanyWorkflowStatisticsType(company=company, **counts)
                for company, counts in data["by_company"].items()
            ],
        )
