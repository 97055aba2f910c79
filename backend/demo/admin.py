from django.contrib import admin

from backend.demo.models import Department, Opportunity, PurchaseRequest, Ticket
from backend.workflows.admin import CompanyScopedAdmin


@admin.register(Department)
class DepartmentAdmin(CompanyScopedAdmin):
    list_display = ("name", "company")
    search_fields = ("name",)


@admin.register(PurchaseRequest)
class PurchaseRequestAdmin(CompanyScopedAdmin):
    company_path = "requester__company_membership__company"
    list_display = ("title", "amount", "requester", "workflow_status", "created_at")
    list_filter = ("workflow_status",)
    search_fields = ("title", "description")


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("title", "status", "priority", "created_by")
    list_filter = ("status", "priority")
    search_fields = ("title",)


@admin.register(Opportunity)
class OpportunityAdmin(admin.ModelAdmin):
    list_display = ("name", "amount", "status", "owner")
    list_filter = ("status",)
    search_fields = ("name",)
