"""Who the viewer is."""

from __future__ import annotations

from typing import Annotated

import strawberry
import strawberry_django
from strawberry.types import Info

from backend.workflows import selectors
from backend.workflows.exceptions import WorkflowError, WorkflowValidationError
from backend.workflows.input_limits import check_text
from schema.accounts.types import (
    CompanyType,
    DepartmentType,
    FormType,
    RoleType,
    UserType,
    ViewerType,
)
from schema.context import context_of
from schema.errors import query_error
from schema.tenancy import viewer_company_id

MAX_COLLEAGUES = 100


@strawberry.type(description="Reads about the viewer (merged into Query).")
class AccountQueries:
    @strawberry_django.field(description="The signed-in user, or null for anonymous callers.")
    def me(self, info: Info) -> ViewerType | None:
        context = context_of(info)
        if not context.is_authenticated:
            return None
        user = context.user
        assert context.company_id is not None  # every signed-in user acts for a company
        company = selectors.company_users(context.company_id).filter(pk=context.company_id).first()
        return ViewerType(
            user=UserType.from_user(user),
            company=CompanyType.from_company(context.company_id, company),
            roles=[RoleType.from_role(group) for group in user.groups.all()],
            account=user,
        )

    # Plain (non-Node) items: strawberry bounds the item TypeVar to relay.Node, but list

    @strawberry_django.field(
        description="Active users of the viewer's company (for delegation and user approvals), "
        "by login name."
    )
    def colleagues(
        self,
        info: Info,
        search: Annotated[
            str | None,
            strawberry.argument(description="Part of the login, first or last name."),
        ] = None,
        first: Annotated[
            int, strawberry.argument(description=f"At most this many (1 to {MAX_COLLEAGUES}).")
        ] = 20,
    ) -> list[UserType]:
        company_id = viewer_company_id(info)
        if not 1 <= first <= MAX_COLLEAGUES:
            raise query_error(
                WorkflowValidationError(
                    f"Argument 'first' must be from 1 to {MAX_COLLEAGUES}.", field="first"
                )
            )
        try:
            text = check_text(search or "", "search", max_length=100)
        except WorkflowError as error:
            raise query_error(error) from None
        users = selectors.company_colleagues(company_id, search=text, limit=first)
        return [UserType.from_user(user) for user in users]

    @strawberry_django.field(
        description="Roles (groups) that members of the viewer's company belong to."
    )
    def roles(self, info: Info) -> list[RoleType]:
        return [
            RoleType.from_role(role) for role in selectors.company_roles(viewer_company_id(info))
        ]

    @strawberry_django.field(description="Forms the viewer's company's approvals may require.")
    def forms(self, info: Info) -> list[FormType]:
        return [
            FormType.from_form(form) for form in selectors.company_forms(viewer_company_id(info))
        ]

    @strawberry_django.field(description="Departments of the viewer's company (for pipelines).")
    def departments(self, info: Info) -> list[DepartmentType]:
        return [
            DepartmentType.from_department(department)
            for department in selectors.company_departments(viewer_company_id(info))
        ]
