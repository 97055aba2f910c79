"""Answer which company a user acts for.

As in django-dynamic-workflows, a company is itself a user. A user belongs to at most one
company through ``CompanyMembership``; a user without one acts as their own company.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Subquery

_CACHE_ATTRIBUTE = "_workflow_company_id"


def get_company_id_for_user(user: Any) -> int | None:
    """Return the id of the company ``user`` acts for (None for anonymous users)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is not None:
        return cached
    from backend.workflows.models import CompanyMembership

    company_id = (
        CompanyMembership.objects.filter(user_id=user.pk)
        .values_list("company_id", flat=True)
        .first()
    )
    if company_id is None:
        company_id = user.pk
    setattr(user, _CACHE_ATTRIBUTE, company_id)
    return company_id


def cached_company_id(user: Any) -> int | None:
    """Return the company id already known for this user object, without a query."""
    return getattr(user, _CACHE_ATTRIBUTE, None)


def company_id_subquery(user_id: Any) -> Subquery:
    """Return SQL giving the membership company of ``user_id`` (a pk or an ``OuterRef``).

    Lets a caller read a user's company inside a query it runs anyway instead of paying a
    query of its own; the value is NULL for a user who acts as their own company. Hand the
    value to ``remember_company_id``.
    """
    from backend.workflows.models import CompanyMembership

    return Subquery(CompanyMembership.objects.filter(user_id=user_id).values("company_id")[:1])


def remember_company_id(user: Any, membership_company_id: int | None) -> int:
    """Store on ``user`` the company read through ``company_id_subquery``; return it."""
    company_id = membership_company_id if membership_company_id is not None else user.pk
    setattr(user, _CACHE_ATTRIBUTE, company_id)
    return company_id


def get_company_for_user(user: Any) -> Any:
    """Return the company (a user) that ``user`` acts for."""
    company_id = get_company_id_for_user(user)
    if company_id is None:
        return None
    if company_id == user.pk:
        return user
    return get_user_model().objects.get(pk=company_id)


def company_ids_for_users(user_ids: list[int]) -> dict[int, int]:
    """Return ``{user_id: company_id}`` for many users in one query."""
    from backend.workflows.models import CompanyMembership

    mapping = {user_id: user_id for user_id in user_ids}
    for user_id, company_id in CompanyMembership.objects.filter(user_id__in=user_ids).values_list(
        "user_id", "company_id"
    ):
        mapping[user_id] = company_id
    return mapping


# Fields naming the user who created a business object, in the order they are tried.
CREATOR_FIELDS = ("created_by", "requester", "owner", "user")


def object_creator(obj: Any) -> Any:
    """Return the user who created ``obj`` (``created_by``, ``requester``, ``owner`` or ``user``)."""
    for name in CREATOR_FIELDS:
        user = getattr(obj, name, None)
        if user is not None and getattr(user, "is_authenticated", False):
            return user
    return None
