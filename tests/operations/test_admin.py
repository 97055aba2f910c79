"""Admin smoke tests: every registered admin page loads with data present; actions are checked."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from backend.demo.models import Opportunity, Ticket
from backend.workflows.admin import WorkflowLevelActionInline
from backend.workflows.constants import ActionType
from backend.workflows.models import (
    OutOfOffice,
    Stage,
    Workflow,
    WorkflowAction,
    WorkflowAttachment,
    WorkflowEvent,
)
from backend.workflows.services import create_workflow_action, reject_stage
from tests.support.action_handlers import ALLOWED
from tests.support.helpers import api_token_for
from tests.support.purchase_steps import current_approvers, start_purchase_request

NOT_ALLOWED = (
    "is not a registered workflow action and is not in a module listed in "
    "WORKFLOW_ACTION_ALLOWED_MODULES."
)


@pytest.fixture
def data(acme, settings):
    """A row in every admin-registered table: templates, copies, actions, attachments, events."""
    settings.WORKFLOW_ACTION_ALLOWED_MODULES = [ALLOWED]
    stage = Stage.objects.filter(pipeline__workflow=acme.workflow).first()
    create_workflow_action(
        workflow=acme.workflow,
        action_type=ActionType.AFTER_APPROVE,
        function_path=f"{ALLOWED}.record",
    )
    create_workflow_action(
        pipeline=stage.pipeline,
        action_type=ActionType.AFTER_MOVE_STAGE,
        function_path=f"{ALLOWED}.record",
    )
    create_workflow_action(
        stage=stage, action_type=ActionType.AFTER_REJECT, function_path=f"{ALLOWED}.fail"
    )
    start_purchase_request(acme, at_stage="Budget Approval")
    request, attachment = start_purchase_request(acme)
    reject_stage(obj=request, user=current_approvers(attachment)[0], reason="No")
    Ticket.objects.create(title="Printer", created_by=acme.user("requester"))
    Opportunity.objects.create(name="Deal", amount=Decimal("10"), owner=acme.user("requester"))
    api_token_for(acme.user("requester"))
    OutOfOffice.objects.create(
        user=acme.user("cfo"),
        substitute=acme.user("employee"),
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(days=7),
    )
    return acme


def admin_pages(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        yield model, model_admin, request, info


def test_every_admin_page_loads_with_data(data, admin_client, admin_user):
    loaded = []
    for model, model_admin, request, (app, name) in admin_pages(admin_user):
        changelist = reverse(f"admin:{app}_{name}_changelist")
        assert admin_client.get(changelist).status_code == 200, changelist
        if model_admin.search_fields:
            assert admin_client.get(changelist, {"q": "a"}).status_code == 200, changelist
        for list_filter in model_admin.list_filter:
            if isinstance(list_filter, str) and "__" not in list_filter:
                field = model._meta.get_field(list_filter)
                if field.get_internal_type() == "BooleanField":
                    response = admin_client.get(changelist, {f"{list_filter}__exact": "1"})
                    assert response.status_code == 200, (changelist, list_filter)
        if model_admin.has_add_permission(request):
            add = reverse(f"admin:{app}_{name}_add")
            assert admin_client.get(add).status_code == 200, add
        obj = model_admin.get_queryset(request).first()
        assert obj is not None, f"no {model._meta.label} row to show"
        change = reverse(f"admin:{app}_{name}_change", args=[obj.pk])
        assert admin_client.get(change).status_code == 200, change
        loaded.append(model._meta.label)
    assert {
        "workflows.Workflow",
        "workflows.Pipeline",
        "workflows.Stage",
        "workflows.WorkflowAction",
        "workflows.WorkflowAttachment",
        "workflows.WorkflowEvent",
        "workflows.WorkflowConfiguration",
        "workflows.CompanyMembership",
        "workflows.DynamicForm",
    } <= set(loaded)


def test_workflow_change_page_shows_pipeline_and_action_inlines(data, admin_client):
    response = admin_client.get(reverse("admin:workflows_workflow_change", args=[data.workflow.pk]))

    content = response.content.decode()
    assert "Workflow-level actions" in content
    assert "tests.support.action_handlers.record" in content
    assert "Finance Review" in content


def test_attachment_page_is_read_only_with_progress_and_events(data, admin_client):
    attachment = WorkflowAttachment.objects.filter(status="in_progress").first()

    response = admin_client.get(
        reverse("admin:workflows_workflowattachment_change", args=[attachment.pk])
    )

    content = response.content.decode()
    assert "25% (1/4 stages)" in content
    assert "Approved" in content  # an audit event of the inline
    assert 'name="_save"' not in content
    assert WorkflowEvent.objects.filter(attachment=attachment).exists()


def test_admin_refuses_a_dangerous_function_path(data, admin_client):
    count = WorkflowAction.objects.count()
    form = {
        "workflow": str(data.workflow.pk),
        "action_type": "after_approve",
        "function_path": "os.system",
        "parameters": '{"command": "id"}',
        "order": "1",
        "is_active": "on",
        "failure_policy": "continue",
    }

    response = admin_client.post(reverse("admin:workflows_workflowaction_add"), form)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "function_path": [f"os.system {NOT_ALLOWED}"]
    }
    assert WorkflowAction.objects.count() == count

    response = admin_client.post(
        reverse("admin:workflows_workflowaction_add"),
        {**form, "function_path": f"{ALLOWED}.record_other"},
    )
    assert response.status_code == 302
    assert WorkflowAction.objects.count() == count + 1


def test_admin_refuses_an_action_with_two_scopes(data, admin_client):
    stage = Stage.objects.filter(pipeline__workflow=data.workflow).first()
    count = WorkflowAction.objects.count()

    response = admin_client.post(
        reverse("admin:workflows_workflowaction_add"),
        {
            "workflow": str(data.workflow.pk),
            "stage": str(stage.pk),
            "action_type": "after_approve",
            "function_path": f"{ALLOWED}.record",
            "parameters": "{}",
            "order": "1",
            "failure_policy": "continue",
        },
    )

    assert response.context["adminform"].form.errors == {
        "__all__": ["An action needs exactly one scope: a workflow, a pipeline or a stage."]
    }
    assert WorkflowAction.objects.count() == count


def test_inline_actions_check_the_function_path(data, admin_user):
    request = RequestFactory().post("/admin/")
    request.user = admin_user
    formset_class = WorkflowLevelActionInline(Workflow, admin.site).get_formset(
        request, data.workflow
    )
    prefix = formset_class.get_default_prefix()
    formset = formset_class(
        {
            f"{prefix}-TOTAL_FORMS": "1",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-0-action_type": "after_reject",
            f"{prefix}-0-function_path": "subprocess.run",
            f"{prefix}-0-parameters": "{}",
            f"{prefix}-0-order": "0",
            f"{prefix}-0-failure_policy": "continue",
        },
        instance=Workflow.objects.get(pk=data.workflow.pk),
        prefix=prefix,
    )

    assert not formset.is_valid()
    assert formset.errors == [{"function_path": [f"subprocess.run {NOT_ALLOWED}"]}]


def test_the_attachment_page_reassigns_the_current_step(client, acme):
    from backend.workflows.models import WorkflowEvent
    from tests.support.helpers import approvers_of

    # given: the company account (staff) signs in to the admin
    request, attachment = start_purchase_request(acme, at_stage="Final Finance Sign-off")
    attachment.refresh_from_db()
    company = acme.company
    company.is_staff = True
    company.save()
    company.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_workflowattachment"])
    )
    client.force_login(company)
    url = reverse("admin:workflows_workflowattachment_reassign", args=[attachment.pk])
    change = reverse("admin:workflows_workflowattachment_change", args=[attachment.pk])
    assert url in client.get(change).content.decode()

    # when
    response = client.post(
        url,
        {
            "to_user": acme.user("employee").pk,
            "reason": "CFO on leave",
            "expected_stage": attachment.current_stage_id,
        },
    )

    # then
    assert response.status_code == 302, response.context["form"].errors
    assert response["Location"] == change
    assert approvers_of(attachment) == ["acme-employee"]
    assert WorkflowEvent.objects.filter(attachment=attachment).last().reason == "CFO on leave"

    # a member without the change permission is refused by the service, nothing changes
    member = acme.user("budget_manager1")
    member.is_staff = True
    member.save()
    member.user_permissions.add(*Permission.objects.filter(codename="view_workflowattachment"))
    client.force_login(member)
    response = client.post(url, {"to_user": member.pk, "reason": "Mine now"})
    assert response.status_code == 200
    assert "PERMISSION_DENIED" in response.content.decode()
    assert approvers_of(attachment) == ["acme-employee"]
