"""Users, roles, forms, departments and the viewer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast, overload

import strawberry
from asgiref.sync import sync_to_async
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone
from strawberry import relay
from strawberry.scalars import JSON

from backend.workflows.approval_config import form_schema
from backend.workflows.services.absence import get_out_of_office

DATABASE_ID = "The object's primary key (prefer `id`, the global id)."


@strawberry.type(name="User", description="A person (or company account) of the viewer's company.")
class UserType(relay.Node):
    _id_attr = "database_id"
    database_id: int = strawberry.field(description=DATABASE_ID)
    username: str = strawberry.field(description="Login name.")
    display_name: str = strawberry.field(description="Full name, or the username.")
    email: str = strawberry.field(description="E-mail address.")

    @overload
    @classmethod
    def from_user(cls, user: None) -> None: ...

    @overload
    @classmethod
    def from_user(cls, user: AbstractBaseUser) -> UserType: ...

    @classmethod
    def from_user(cls, user: Any) -> UserType | None:
        if user is None:
            return None
        return cls(
            database_id=user.pk,
            username=user.username,
            display_name=user.get_full_name() or user.first_name or user.username,
            email=user.email or "",
        )


@strawberry.type(name="Role", description="A role (a Django group) whose members approve together.")
class RoleType(relay.Node):
    _id_attr = "database_id"
    database_id: int = strawberry.field(description=DATABASE_ID)
    name: str = strawberry.field(description="Role name.")

    @classmethod
    def from_role(cls, role: Any) -> RoleType:
        return cls(database_id=role.pk, name=str(getattr(role, "name", role)))


@strawberry.type(name="Form", description="A form an approver must fill in.")
class FormType(relay.Node):
    _id_attr = "database_id"
    database_id: int = strawberry.field(description=DATABASE_ID)
    name: str = strawberry.field(description="Form name.")
    schema: JSON = strawberry.field(description="Field definitions: {fields: [{name, required}]}.")

    @classmethod
    def from_form(cls, form: Any) -> FormType:
        return cls(
            database_id=form.pk,
            name=str(getattr(form, "name", form)),
            schema=cast(JSON, form_schema(form)),
        )


@strawberry.type(name="Department", description="The department a pipeline belongs to.")
class DepartmentType(relay.Node):
    _id_attr = "database_id"
    database_id: int = strawberry.field(description=DATABASE_ID)
    name: str = strawberry.field(description="Department name.")

    @classmethod
    def from_department(cls, department: Any) -> DepartmentType:
        return cls(database_id=department.pk, name=str(department))


@strawberry.type(
    name="Company",
    description="A tenant; as in django-dynamic-workflows, a company is a user account.",
)
class CompanyType(relay.Node):
    _id_attr = "database_id"
    database_id: int = strawberry.field(description=DATABASE_ID)
    name: str = strawberry.field(description="Company name.")

    @classmethod
    def from_company(cls, company_id: int, account: Any) -> CompanyType:
        """Build the company ``company_id`` from its user account (None: unnamed)."""
        name = (account.first_name or account.username) if account is not None else ""
        return cls(database_id=company_id, name=name)


@strawberry.type(
    name="OutOfOffice",
    description=(
        "An absence window: while it lasts, steps assigned to the user by name go to the "
        "substitute (recorded on the event that opened them)."
    ),
)
class OutOfOfficeType:
    substitute: UserType = strawberry.field(description="Who takes the user's new steps.")
    starts_at: datetime = strawberry.field(description="When the absence starts.")
    ends_at: datetime = strawberry.field(description="When it ends (exclusive).")
    reason: str = strawberry.field(description="Optional reason.")
    is_active: bool = strawberry.field(description="True while now is inside the window.")

    @classmethod
    def from_absence(cls, absence: Any) -> OutOfOfficeType | None:
        if absence is None:
            return None
        return cls(
            substitute=UserType.from_user(absence.substitute),  # type: ignore[arg-type]
            starts_at=absence.starts_at,
            ends_at=absence.ends_at,
            reason=absence.reason,
            is_active=absence.is_active_at(timezone.now()),
        )


@strawberry.type(name="Viewer", description="The signed-in user, their company and roles.")
class ViewerType:
    user: UserType = strawberry.field(description="The user.")
    company: CompanyType = strawberry.field(description="The company they act for.")
    roles: list[RoleType] = strawberry.field(description="Roles (groups) they belong to.")
    account: strawberry.Private[Any] = None

    @strawberry.field(
        description="The viewer's absence window (past, present or future), or null: set it "
        "with setOutOfOffice."
    )
    async def out_of_office(self) -> OutOfOfficeType | None:
        def load() -> OutOfOfficeType | None:
            return OutOfOfficeType.from_absence(get_out_of_office(self.account))

        return await sync_to_async(load)()
