"""Per-request GraphQL context: the authenticated user, their company and fresh DataLoaders."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info

from backend.workflows.exceptions import UnauthenticatedError, WorkflowPermissionDenied
from backend.workflows.selectors import can_manage_workflows
from backend.workflows.services.running import ViewerPermissions, viewer_permissions
from schema.dataloaders import Loaders


@dataclass
class RequestContext:
    request: Any
    response: Any
    user: Any
    company_id: int | None
    loaders: Loaders = field(default_factory=Loaders)
    # WebSocket connections only: the consumer and the connection_init payload.
    ws: Any = None
    connection_params: dict[str, Any] | None = None

    _permissions: asyncio.Future[ViewerPermissions] | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user is not None and self.user.is_authenticated

    def viewer(self, message: str = "Sign in to use the API.") -> Any:
        """Return the signed-in user, or raise UNAUTHENTICATED (the one viewer check)."""
        if not self.is_authenticated:
            raise UnauthenticatedError(message)
        return self.user

    def manager(self, message: str = "You may not build or edit workflows.") -> Any:
        """Return the viewer if they may edit the company's templates, else raise."""
        user = self.viewer()
        if not can_manage_workflows(user, self.company_id):
            raise WorkflowPermissionDenied(message)
        return user

    def load_viewer_permissions(self) -> asyncio.Future[ViewerPermissions]:
        """Start loading the viewer's permissions (once a request); return the awaitable.

        Started before a resolver awaits its other loads, the read shares their hop.
        """
        if self._permissions is None:
            # One load shared by every resolver of the request, even those already waiting.
            self._permissions = asyncio.ensure_future(
                self.loaders.hops.run(viewer_permissions, self.user)
            )
        return self._permissions

    async def viewer_permissions(self) -> ViewerPermissions:
        """Return the viewer's permissions the transition policy asks about (once a request)."""
        return await self.load_viewer_permissions()


def context_of(info: Info) -> RequestContext:
    """Return the typed context of a resolver."""
    return info.context
