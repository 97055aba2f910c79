"""Per-request GraphQL context: the authenticated user, their company and fresh DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info

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

    @property
    def is_authenticated(self) -> bool:
        return self.user is not None and self.user.is_authenticated


def context_of(info: Info) -> RequestContext:
    """Return the typed context of a resolver."""
    return info.context
