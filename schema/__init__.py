"""The WorkflowQL GraphQL schema.

``from schema import schema`` is the served schema, built on first use (it needs Django set
up, as it is wherever the schema is served). Importing a submodule never builds it, so a host
application's schema module may import ``schema.host`` before ``schema.root`` merges it.
"""

from __future__ import annotations

import sys
import types
from typing import Any

__all__ = ["schema"]


class _Package(types.ModuleType):
    """This package, whose ``schema`` attribute is the built schema, never the submodule.

    Importing the submodule ``schema.schema`` makes Python set the package's ``schema``
    attribute to that module; the property keeps answering the schema object instead.
    """

    @property
    def schema(self) -> Any:
        from schema.schema import schema as built

        return built

    @schema.setter
    def schema(self, value: Any) -> None:
        """Ignore the import system binding the submodule (the property reads it from there)."""


sys.modules[__name__].__class__ = _Package
