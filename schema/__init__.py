"""The WorkflowQL GraphQL schema.

``from schema import schema`` needs Django set up, as it is wherever the schema is served.
Imported earlier (``python -m schema.export`` sets Django up itself, after this package
is imported), the package skips that import instead of failing.
"""

from django.apps import apps

if apps.ready:
    from schema.schema import schema

__all__ = ["schema"]
