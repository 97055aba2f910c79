"""django-filter FilterSets for the lists the API exposes."""

from __future__ import annotations

import django_filters
from django.contrib.contenttypes.models import ContentType

from backend.workflows.constants import AttachmentStatus
from backend.workflows.models import Workflow, WorkflowAttachment
from backend.workflows.selectors import filter_overdue


class WorkflowFilterSet(django_filters.FilterSet):
    name_contains = django_filters.CharFilter(field_name="name_en", lookup_expr="icontains")
    is_active = django_filters.BooleanFilter(field_name="is_active")
    department_id = django_filters.CharFilter(method="filter_department")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Workflow
        fields: list[str] = []

    def filter_department(self, queryset, name, value):
        return queryset.filter(pipelines__department_id=str(value)).distinct()


class WorkflowAttachmentFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=AttachmentStatus.choices)
    workflow_id = django_filters.NumberFilter(method="filter_workflow")
    model = django_filters.CharFilter(method="filter_model")
    stage_id = django_filters.NumberFilter(method="filter_stage")
    started_by_id = django_filters.NumberFilter(field_name="started_by_id")
    overdue = django_filters.BooleanFilter(method="filter_overdue")

    class Meta:
        model = WorkflowAttachment
        fields: list[str] = []

    def filter_workflow(self, queryset, name, value):
        """Match the running copy itself or any copy cloned from the given template."""
        return queryset.filter(
            workflow_id__in=Workflow.objects.filter(pk=value).values("pk")
        ) | queryset.filter(workflow__cloned_from_id=value)

    def filter_model(self, queryset, name, value):
        app_label, _, model = str(value).lower().partition(".")
        content_type = ContentType.objects.filter(app_label=app_label, model=model).first()
        return queryset.filter(content_type=content_type) if content_type else queryset.none()

    def filter_overdue(self, queryset, name, value):
        """Keep in-progress attachments with a step past its due time (or, false, the others)."""
        return filter_overdue(queryset, overdue=value)

    def filter_stage(self, queryset, name, value):
        return queryset.filter(current_stage_id=value) | queryset.filter(
            current_stage__cloned_from_id=value
        )


def apply_filterset(filterset_class, data: dict, queryset):
    """Filter ``queryset`` with ``data``; raise the domain validation error on bad input."""
    from backend.workflows.exceptions import WorkflowValidationError

    filterset = filterset_class(
        data={k: v for k, v in data.items() if v is not None}, queryset=queryset
    )
    if not filterset.is_valid():
        field, messages = next(iter(filterset.errors.items()))
        raise WorkflowValidationError(f"{field}: {' '.join(messages)}", field=field)
    return filterset.qs
