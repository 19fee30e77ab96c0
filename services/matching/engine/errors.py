"""Errors the matching engine raises for bad input; the service maps them to problems."""

from __future__ import annotations


class UnknownCluster(KeyError):
    """The cluster id is not (or no longer) in the index."""

    def __init__(self, cluster_id: str) -> None:
        super().__init__(cluster_id)
        self.cluster_id = cluster_id

    def __str__(self) -> str:
        return f"unknown cluster {self.cluster_id!r}"


class InvalidQuery(ValueError):
    """A query parameter is out of range or malformed."""


class EmptyQuery(InvalidQuery):
    """A free-text search with nothing to search for."""
