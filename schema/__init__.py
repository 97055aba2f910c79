"""The WorkflowQL GraphQL schema."""

from schema.schema import schema

__all__ = ["schema"]
