"""Who the viewer is."""

from __future__ import annotations

import strawberry
import strawberry_django
from strawberry.types import Info

from backend.workflows import selectors
from schema.accounts.types import CompanyType, RoleType, UserType, ViewerType
from schema.context import context_of


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
            user=UserType.from_user(user),  # type: ignore[arg-type]
            company=CompanyType.from_company(context.company_id, company),
            roles=[RoleType.from_role(group) for group in user.groups.all()],
        )

    # Plain (non-Node) items: strawberry bounds the item TypeVar to relay.Node, but list
