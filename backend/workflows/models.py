"""Workflow templates, their running attachments, configuration and the audit trail.

A workflow is a tree: Workflow -> Pipeline -> Stage. Attaching a workflow to a business
object clones the tree (unless asked not to) so that editing a template never changes an
attachment that is already running.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from backend.workflows.action_registry import handler_convention_of, validate_function_path
from backend.workflows.constants import (
    LIVE_STATUSES,
    ActionType,
    AttachmentStatus,
    EventType,
    FailurePolicy,
    HandlerConvention,
    WorkflowStatus,
)


class CompanyMembership(models.Model):
    """Tie a user to the company (itself a user, as in django-dynamic-workflows) they act for."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="company_membership",
    )
    company = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="company_members",
    )

    class Meta:
        verbose_name = "company membership"

    def __str__(self) -> str:
        return f"{self.user} @ {self.company}"


class DynamicForm(models.Model):
    """A form an approver fills in; ``schema`` lists its fields (``{"fields": [...]}``)."""

    company = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="workflow_forms",
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    schema = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.name

    @property
    def required_fields(self) -> list[str]:
        """Return the names of the fields marked ``required`` in the schema."""
        fields = self.schema.get("fields", []) if isinstance(self.schema, dict) else []
        return [
            str(item["name"])
            for item in fields
            if isinstance(item, dict) and item.get("name") and item.get("required")
        ]


class Workflow(models.Model):
    company = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="workflow_company",
    )
    name_en = models.CharField(max_length=200)
    name_ar = models.CharField(max_length=200, blank=True)
    slug = models.SlugField(max_length=100, blank=True, db_index=True)
    description = models.TextField(blank=True)
    # Only active workflows can be attached; drafts are being built, archived ones are retired
    # (still readable, their running copies go on).
    status = models.CharField(
        max_length=20, choices=WorkflowStatus.choices, default=WorkflowStatus.ACTIVE
    )
    # Compatibility alias of ``status == "active"``, kept in step by ``save()`` so existing
    # filters on ``is_active`` keep working; write ``status`` instead.
    is_active = models.BooleanField(default=True, editable=False)
    # Clones made when a workflow is attached are hidden: they are run copies, not templates.
    is_hidden = models.BooleanField(default=False, db_index=True)
    cloned_from = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="clones",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)
    # (status, is_active) as loaded or last saved; see sync_is_active().
    _loaded_activity: tuple[str | None, bool | None]

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["company", "is_hidden", "-id"])]

    def __str__(self) -> str:
        return self.name_en

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.sync_is_active()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and ({"status", "is_active"} & set(update_fields)):
            kwargs["update_fields"] = {*update_fields, "status", "is_active"}
        super().save(*args, **kwargs)
        self._loaded_activity = (self.status, self.is_active)

    @classmethod
    def from_db(cls, *args: Any, **kwargs: Any) -> Workflow:
        instance = super().from_db(*args, **kwargs)
        instance._loaded_activity = (
            instance.__dict__.get("status"),
            instance.__dict__.get("is_active"),
        )
        return instance

    def sync_is_active(self) -> None:
        """Bring ``status`` and its ``is_active`` alias in step before saving.

        Code written for the seed sets ``is_active``: when only the alias changed since the
        row was loaded (or a new workflow is created inactive), it decides the status
        (inactive: ``archived`` for a workflow that was active, else ``draft``).
        """
        loaded = getattr(self, "_loaded_activity", None)
        if loaded is None:
            if not self.is_active and self.status == WorkflowStatus.ACTIVE:
                self.status = WorkflowStatus.DRAFT
        elif self.is_active != loaded[1] and self.status == loaded[0]:
            if self.is_active:
                self.status = WorkflowStatus.ACTIVE
            elif self.status == WorkflowStatus.ACTIVE:
                self.status = WorkflowStatus.ARCHIVED
        self.is_active = self.status == WorkflowStatus.ACTIVE


class Pipeline(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="pipelines")
    name_en = models.CharField(max_length=200)
    name_ar = models.CharField(max_length=200, blank=True)
    order = models.PositiveIntegerField(default=0)
    department_content_type = models.ForeignKey(
        ContentType,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    department_id = models.CharField(max_length=64, blank=True, default="")
    department = GenericForeignKey("department_content_type", "department_id")
    cloned_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name_en


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name_en = models.CharField(max_length=200)
    name_ar = models.CharField(max_length=200, blank=True)
    order = models.PositiveIntegerField(default=0)
    color = models.CharField(max_length=20, blank=True, default="#3498db")
    # A list of approval dicts with the seed's keys (see backend.workflows.approval_config).
    approvals = models.JSONField(default=list, blank=True)
    # Django lookups over the object's fields (``{"amount__gte": 10000}``), read when the stage
    # would become current: when the object does not match, the stage is skipped. Null: always.
    condition = models.JSONField(null=True, blank=True, default=None)
    cloned_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name_en

    @property
    def stage_info(self) -> dict[str, Any]:
        """Return the seed's ``stage_info`` shape: colour plus the approvals list."""
        return {"color": self.color, "approvals": list(self.approvals or [])}


ACTION_SCOPES = ("workflow", "pipeline", "stage")


class WorkflowAction(models.Model):
    """A handler run after a committed event, scoped to exactly one workflow, pipeline or stage.

    ``function_path`` names a callable ``handler(context, parameters)`` that must be registered
    with ``@workflow_action`` or live in a module of ``WORKFLOW_ACTION_ALLOWED_MODULES``; it is
    checked on save and again before every run (see ``backend.workflows.actions``).
    """

    workflow = models.ForeignKey(
        Workflow, on_delete=models.CASCADE, null=True, blank=True, related_name="actions"
    )
    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.CASCADE, null=True, blank=True, related_name="actions"
    )
    stage = models.ForeignKey(
        Stage, on_delete=models.CASCADE, null=True, blank=True, related_name="actions"
    )
    action_type = models.CharField(max_length=40, choices=ActionType.choices)
    function_path = models.CharField(max_length=255)
    parameters = models.JSONField(default=dict, blank=True)
    order = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    failure_policy = models.CharField(
        max_length=20, choices=FailurePolicy.choices, default=FailurePolicy.CONTINUE
    )
    # Read from the handler's signature whenever the action is saved (see actions.py).
    handler_convention = models.CharField(
        max_length=20,
        choices=HandlerConvention.choices,
        default=HandlerConvention.CONTEXT,
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(workflow__isnull=False, pipeline__isnull=True, stage__isnull=True)
                    | Q(workflow__isnull=True, pipeline__isnull=False, stage__isnull=True)
                    | Q(workflow__isnull=True, pipeline__isnull=True, stage__isnull=False)
                ),
                name="workflow_action_exactly_one_scope",
                violation_error_message=(
                    "An action needs exactly one scope: a workflow, a pipeline or a stage."
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_action_type_display()}: {self.function_path} ({self.scope_level})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Every save path (admin, GraphQL, plain Python) refuses a path outside the allow-list
        # and records how the handler is called, read once from its signature.
        self.handler_convention = handler_convention_of(validate_function_path(self.function_path))
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "function_path" in update_fields:
            kwargs["update_fields"] = {*update_fields, "handler_convention"}
        super().save(*args, **kwargs)

    def _scope_is_set(self, name: str) -> bool:
        # An inline form on an unsaved parent sets the related object before it has an id.
        return getattr(self, f"{name}_id") is not None or (
            self._state.fields_cache.get(name) is not None
        )

    @property
    def scope_level(self) -> str:
        """Return ``workflow``, ``pipeline`` or ``stage`` (empty when no scope is set)."""
        return next((name for name in ACTION_SCOPES if self._scope_is_set(name)), "")

    def clean(self) -> None:
        from backend.workflows.exceptions import WorkflowError

        # The scope rule is the check constraint, validated by full_clean() with its own message.
        errors: dict[str, list[str]] = {}
        try:
            validate_function_path(self.function_path)
        except WorkflowError as error:
            errors["function_path"] = [error.message]
        if not isinstance(self.parameters, dict):
            errors["parameters"] = ["Parameters must be a JSON object."]
        if errors:
            raise ValidationError(errors)


class WorkflowConfiguration(models.Model):
    """How the engine treats one business model."""

    content_type = models.OneToOneField(
        ContentType, on_delete=models.CASCADE, related_name="workflow_configuration"
    )
    is_enabled = models.BooleanField(default=True)
    auto_start_workflow = models.BooleanField(default=False)
    default_workflow = models.ForeignKey(
        Workflow, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status_field = models.CharField(max_length=100, blank=True)
    stage_field = models.CharField(max_length=100, blank=True)
    completion_status_value = models.CharField(max_length=100, blank=True)
    rejection_status_value = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Configuration for {self.content_type.app_label}.{self.content_type.model}"

    def clean(self) -> None:
        # Checked when configured (admin here, services and GraphQL through
        # register_model_for_workflow); a model changed later is tolerated at completion.
        model = self.content_type.model_class() if self.content_type_id else None
        if model is None:
            return
        names = {field.name for field in model._meta.concrete_fields}
        errors = {
            name: [f"{model._meta.label} has no field '{getattr(self, name)}'."]
            for name in ("status_field", "stage_field")
            if getattr(self, name) and getattr(self, name) not in names
        }
        if errors:
            raise ValidationError(errors)


class WorkflowAttachment(models.Model):
    """A workflow running on one business object."""

    company = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        related_name="+",
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField(max_length=255)
    target = GenericForeignKey("content_type", "object_id")
    workflow = models.ForeignKey(Workflow, on_delete=models.PROTECT, related_name="attachments")
    current_pipeline = models.ForeignKey(
        Pipeline, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    current_stage = models.ForeignKey(
        Stage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=20,
        choices=AttachmentStatus.choices,
        default=AttachmentStatus.NOT_STARTED,
        db_index=True,
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Highest approval_workflow step number used so far; new stages are numbered after it.
    last_step_number = models.PositiveIntegerField(default=0)
    # Stages of the running copy skipped because their condition did not match (in the order
    # they were skipped); progress counts only the stages that applied.
    skipped_stage_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("start_workflow", "Can attach and start workflows"),
            ("approve_workflow", "Can act on approval steps"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id"],
                condition=Q(status__in=LIVE_STATUSES),
                name="one_live_attachment_per_object",
            )
        ]
        indexes = [
            models.Index(fields=["content_type", "object_id"]),
            models.Index(fields=["company", "status", "-id"]),
            models.Index(fields=["status", "completed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.workflow} on {self.content_type.model}#{self.object_id}"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    def _running_stages(self) -> list[Stage]:
        from backend.workflows.selectors import ordered_stages

        cached = self.__dict__.get("_running_stages_cache")
        if cached is None or cached[0] != self.workflow_id:
            cached = (self.workflow_id, ordered_stages(self.workflow_id))
            self.__dict__["_running_stages_cache"] = cached
        return cached[1]

    @property
    def next_stage(self) -> Stage | None:
        """Return the stage after the current one (None once finished), as the seed's property.

        A convenience for one object: the first use reads the workflow's stages (one query),
        shared with ``progress_percentage``. Lists should use ``get_workflow_progress`` or the
        GraphQL fields instead.
        """
        from backend.workflows.selectors import compute_next_stage

        return compute_next_stage(self, self._running_stages())

    @property
    def progress_percentage(self) -> float:
        """Return stages fully approved / all stages, in percent (see ``next_stage``)."""
        from backend.workflows.selectors import compute_progress

        return compute_progress(self, self._running_stages()).percentage


class WorkflowEvent(models.Model):
    """One row of the append-only audit trail: a transition of an attachment."""

    attachment = models.ForeignKey(
        WorkflowAttachment, on_delete=models.CASCADE, related_name="events"
    )
    company = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, related_name="+"
    )
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    from_stage = models.ForeignKey(
        Stage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    to_stage = models.ForeignKey(
        Stage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_pipeline = models.ForeignKey(
        Pipeline, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    to_pipeline = models.ForeignKey(
        Pipeline, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.TextField(blank=True)
    form_data = models.JSONField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True, default="")
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The attachment's state once the change that recorded the event was made (see
    # ``selectors.attachment_snapshot``): live, queried and replayed events show the same one.
    snapshot = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["actor", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="one_event_per_idempotency_key",
            )
        ]
        indexes = [models.Index(fields=["attachment", "id"])]

    def __str__(self) -> str:
        return f"{self.event_type} on attachment {self.attachment_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValueError("Workflow events are append-only and cannot be changed.")
        super().save(*args, **kwargs)


class OutOfOffice(models.Model):
    """A user's absence window and the substitute who takes their new steps meanwhile.

    Unlike a delegation (one step, handed over by its holder, once), an absence applies to
    every step that would be assigned to the user by name while ``starts_at <= now < ends_at``.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="out_of_office"
    )
    substitute = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = "out-of-office"
        verbose_name_plural = "out-of-office"
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="out_of_office_window"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} away, substitute {self.substitute}"

    def is_active_at(self, moment: Any) -> bool:
        """Tell whether the absence covers ``moment``."""
        return self.starts_at <= moment < self.ends_at


class StructureMarker(models.Model):
    """A change marker of what the template structure shows (``backend.workflows.structure_markers``).

    Written only by database triggers: one row per company whose templates changed (the
    company's user id), and one row (scope 0) for the users, roles, forms and departments
    that templates show. ``token`` is a new random number at every change.
    """

    scope = models.BigIntegerField(primary_key=True)
    token = models.BigIntegerField()

    class Meta:
        verbose_name = "structure marker"

    def __str__(self) -> str:
        return f"{self.scope}: {self.token}"
