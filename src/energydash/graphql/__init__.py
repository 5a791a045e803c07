"""GraphQL at /graphql (strawberry): the smart-home prototype's devices and energy stats."""

from energydash.graphql.schema import graphql_router

__all__ = ["graphql_router"]
