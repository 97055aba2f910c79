"""Django admin for templates, configurations, running attachments and the audit trail."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from backend.workflows.approval_config import role_model, validate_approvals
from backend.workflows.companies import get_company_id_for_user
from backend.workflows.conditions import validate_condition
from backend.workflows.exceptions import WorkflowError
from backend.workflows.models import (
    CompanyMembership,
    DynamicForm,
    OutOfOffice,
    Pipeline,
    Stage,
    Workflow,
    WorkflowAction,
    WorkflowAttachment,
    WorkflowConfiguration,
    WorkflowEvent,
)
from backend.workflows.selectors import company_users, compute_progress, ordered_stages
from backend.workflows.services.running import reassign_stage


class CompanyScopedAdmin(admin.ModelAdmin):
    """Staff who are not superusers (e.g. the demo's ``acme-admin``) see their company's rows.

    ``company_path`` is the lookup from the model to the company (a user).
    """

    company_path = "company"

    def get_queryset(self, request: Any) -> Any:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        company_id = get_company_id_for_user(request.user)
        return queryset.filter(**{f"{self.company_path}_id": company_id})


class StageAdminForm(forms.ModelForm):
    """Validate the approvals JSON with the engine's rules before saving."""

    class Meta:
        model = Stage
        fields = ("pipeline", "name_en", "name_ar", "order", "color", "approvals", "condition")

    def clean_condition(self) -> Any:
        try:
            return validate_condition(self.cleaned_data.get("condition"))
        except WorkflowError as error:
            raise ValidationError(error.message) from error

    def clean_approvals(self) -> Any:
        approvals = self.cleaned_data.get("approvals") or []
        pipeline = self.cleaned_data.get("pipeline") or getattr(self.instance, "pipeline", None)
        company_id = pipeline.workflow.company_id if pipeline else None
        try:
            return validate_approvals(approvals, company_id=company_id)
        except WorkflowError as error:
            raise ValidationError(
                f"{error.field}: {error.message}" if error.field else error.message
            ) from error


class WorkflowActionInline(admin.TabularInline):
    """Actions of one scope; the function path is checked by the model's clean()."""

    model = WorkflowAction
    extra = 0
    fields = ("action_type", "function_path", "parameters", "order", "is_active", "failure_policy")


class WorkflowLevelActionInline(WorkflowActionInline):
    fk_name = "workflow"
    verbose_name_plural = "workflow-level actions"


class PipelineLevelActionInline(WorkflowActionInline):
    fk_name = "pipeline"
    verbose_name_plural = "pipeline-level actions"


class StageLevelActionInline(WorkflowActionInline):
    fk_name = "stage"
    verbose_name_plural = "stage-level actions"


class PipelineInline(admin.TabularInline):
    model = Pipeline
    extra = 0
    fields = ("name_en", "name_ar", "order", "department_content_type", "department_id")
    show_change_link = True


class StageInline(admin.StackedInline):
    model = Stage
    form = StageAdminForm
    extra = 0
    fields = ("name_en", "name_ar", "order", "color", "approvals")


@admin.register(Workflow)
class WorkflowAdmin(CompanyScopedAdmin):
    list_display = (
        "name_en",
        "company",
        "slug",
        "status",
        "is_hidden",
        "cloned_from",
        "created_at",
    )
    # ``status`` is edited (draft / active / archived); ``is_active`` is its read-only alias.
    list_filter = ("status", "is_hidden", "created_at")
    readonly_fields = ("is_active",)
    search_fields = ("name_en", "name_ar", "slug", "description")
    raw_id_fields = ("company", "cloned_from", "created_by")
    inlines = [PipelineInline, WorkflowLevelActionInline]


@admin.register(Pipeline)
class PipelineAdmin(CompanyScopedAdmin):
    company_path = "workflow__company"
    list_display = ("name_en", "workflow", "order")
    search_fields = ("name_en", "name_ar", "workflow__name_en")
    list_filter = ("workflow__is_hidden",)
    raw_id_fields = ("workflow", "cloned_from")
    inlines = [StageInline, PipelineLevelActionInline]


@admin.register(Stage)
class StageAdmin(CompanyScopedAdmin):
    company_path = "pipeline__workflow__company"
    form = StageAdminForm
    list_display = ("name_en", "pipeline", "order", "color")
    search_fields = ("name_en", "name_ar", "pipeline__name_en")
    raw_id_fields = ("pipeline",)
    list_filter = ("pipeline__workflow__is_hidden",)
    inlines = [StageLevelActionInline]


@admin.register(WorkflowAction)
class WorkflowActionAdmin(admin.ModelAdmin):
    """Stored actions; saving checks the scope and the function path against the allow-list."""

    list_display = (
        "id",
        "action_type",
        "function_path",
        "scope",
        "order",
        "is_active",
        "failure_policy",
    )
    list_filter = ("action_type", "is_active", "failure_policy", "workflow__is_hidden")
    search_fields = ("function_path", "workflow__name_en", "pipeline__name_en", "stage__name_en")
    raw_id_fields = ("workflow", "pipeline", "stage")
    list_select_related = ("workflow", "pipeline", "stage")
    fields = (
        "workflow",
        "pipeline",
        "stage",
        "action_type",
        "function_path",
        "parameters",
        "order",
        "is_active",
        "failure_policy",
        "handler_convention",
    )
    # Read from the handler's signature on save.
    readonly_fields = ("handler_convention",)

    @admin.display(description="Scope")
    def scope(self, obj: WorkflowAction) -> str:
        target = obj.workflow or obj.pipeline or obj.stage
        return f"{obj.scope_level}: {target}"


@admin.register(WorkflowConfiguration)
class WorkflowConfigurationAdmin(admin.ModelAdmin):
    list_display = (
        "content_type",
        "is_enabled",
        "auto_start_workflow",
        "status_field",
        "completion_status_value",
        "rejection_status_value",
    )
    list_filter = ("is_enabled", "auto_start_workflow")
    search_fields = ("content_type__app_label", "content_type__model", "status_field")
    # The model's clean() refuses a status or stage field the business model does not have.


class WorkflowEventInline(admin.TabularInline):
    model = WorkflowEvent
    extra = 0
    can_delete = False
    fields = ("occurred_at", "event_type", "actor", "from_stage", "to_stage", "reason")
    readonly_fields = fields

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class ReassignForm(forms.Form):
    """Who takes the current step: a user or a role of the attachment's company."""

    to_user = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)
    to_role = forms.ModelChoiceField(queryset=role_model().objects.none(), required=False)
    reason = forms.CharField(widget=forms.Textarea, max_length=5000)
    expected_stage = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, company_id: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_user"].queryset = company_users(company_id).filter(is_active=True)  # type: ignore[attr-defined]
        self.fields["to_role"].queryset = role_model().objects.order_by("pk")  # type: ignore[attr-defined]


@admin.register(WorkflowAttachment)
class WorkflowAttachmentAdmin(CompanyScopedAdmin):
    list_display = (
        "id",
        "workflow",
        "content_type",
        "object_id",
        "status",
        "current_stage",
        "started_at",
    )
    list_filter = ("status", "content_type", "started_at")
    search_fields = ("object_id", "workflow__name_en")
    list_select_related = ("workflow", "content_type", "current_stage")
    inlines = [WorkflowEventInline]

    def get_readonly_fields(self, request: Any, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields] + ["progress", "reassign"]

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.reassign_view)
        return [
            path("<int:pk>/reassign/", view, name="workflows_workflowattachment_reassign"),
            *super().get_urls(),
        ]

    @admin.display(description="Reassign the current step")
    def reassign(self, obj: WorkflowAttachment) -> str:
        if obj.pk is None or obj.status != "in_progress":
            return "-"
        url = reverse("admin:workflows_workflowattachment_reassign", args=[obj.pk])
        return format_html('<a href="{}">Reassign…</a>', url)

    def reassign_view(self, request: Any, pk: int) -> Any:
        """Reassign the attachment's current step (the engine's reassign_stage decides who may)."""
        attachment = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_view_permission(request, attachment):
            raise PermissionDenied
        form = ReassignForm(request.POST or None, company_id=attachment.company_id)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                reassign_stage(
                    attachment_id=attachment.pk,
                    user=request.user,
                    to_user=data["to_user"],
                    to_role=data["to_role"],
                    reason=data["reason"],
                    expected_stage=data["expected_stage"],
                )
            except WorkflowError as error:
                form.add_error(None, f"{error.code}: {error.message}")
            else:
                messages.success(request, "The current step was reassigned.")
                change = reverse("admin:workflows_workflowattachment_change", args=[attachment.pk])
                return HttpResponseRedirect(change)
        if request.method != "POST":
            form.initial["expected_stage"] = attachment.current_stage_id
        context = {
            **self.admin_site.each_context(request),
            "title": f"Reassign the current step of {attachment}",
            "attachment": attachment,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/workflows/reassign.html", context)

    @admin.display(description="Progress")
    def progress(self, obj: WorkflowAttachment) -> str:
        progress = compute_progress(obj, ordered_stages(obj.workflow_id))
        return f"{progress.percentage:.0f}% ({progress.completed_stages}/{progress.total_stages} stages)"

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(WorkflowEvent)
class WorkflowEventAdmin(CompanyScopedAdmin):
    list_display = (
        "id",
        "occurred_at",
        "event_type",
        "attachment",
        "actor",
        "from_stage",
        "to_stage",
    )
    list_filter = ("event_type", "occurred_at")
    search_fields = ("reason",)
    list_select_related = ("attachment", "actor", "from_stage", "to_stage")

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(CompanyMembership)
class CompanyMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "company")
    search_fields = ("user__username", "company__username")
    raw_id_fields = ("user", "company")


@admin.register(DynamicForm)
class DynamicFormAdmin(CompanyScopedAdmin):
    list_display = ("name", "company")
    search_fields = ("name",)


@admin.register(OutOfOffice)
class OutOfOfficeAdmin(admin.ModelAdmin):
    list_display = ("user", "substitute", "starts_at", "ends_at")
    raw_id_fields = ("user", "substitute")
