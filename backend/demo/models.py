"""Business models of the demo: the seed's purchase request, a ticket and a CRM opportunity."""

from django.conf import settings
from django.db import models


class Department(models.Model):
    """A company department; pipelines point at one (``DEPARTMENT_MODEL``)."""

    company = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="departments"
    )
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.name


class PurchaseRequest(models.Model):
    title = models.CharField(max_length=200)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    description = models.TextField(blank=True)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="purchase_requests"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    workflow_status = models.CharField(max_length=50, default="pending")
    current_stage = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"Purchase Request: {self.title} - ${self.amount}"


class Ticket(models.Model):
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=50, default="open")
    priority = models.CharField(max_length=20, default="normal")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tickets"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title


class Opportunity(models.Model):
    name = models.CharField(max_length=200)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=50, default="draft")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="opportunities"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "opportunities"

    def __str__(self) -> str:
        return self.name
