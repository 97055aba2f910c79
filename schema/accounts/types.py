"""Users, roles, forms, departments and the viewer."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON


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


@strawberry.type(
    name="Company",
    description="A tenant; as in django-dynamic-workflows, a company is a user account.",
)
class CompanyType:
    id: strawberry.ID = strawberry.field(description="Company id.")
    name: str = strawberry.field(description="Company name.")


@strawberry.type(name="Viewer", description="The signed-in user, their company and roles.")
class ViewerType:
    user: UserType = strawberry.field(description="The user.")
    company: CompanyType = strawberry.field(description="The company they act for.")
    roles: list[RoleType] = strawberry.field(description="Roles (groups) they belong to.")
