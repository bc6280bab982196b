"""Domain exceptions raised by services and selectors.

They carry stable messages and know nothing about HTTP; the API's exception handler
(``orion_project.api.errors``) maps each one to the reference's status code and body.
"""

from __future__ import annotations

# The reference's generic answer to a broken unique or foreign-key constraint (409).
INTEGRITY_CONFLICT_DETAIL = (
    "Data integrity conflict. This usually means a unique or foreign key constraint was "
    "violated. See server logs for details."
)


class OrionError(Exception):
    """Base class of every domain error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ObjectNotFoundError(OrionError):
    """A referenced object does not exist (404 ``{"exception_message": ...}``)."""


class MissingReferenceError(OrionError):
    """An object the request names by id does not exist, where the reference checks it in
    the route itself (404 ``{"detail": ...}``, e.g. the block type of a new block schema)."""


class ConflictError(OrionError):
    """A uniqueness or reference rule was broken (409 ``{"detail": ...}``)."""


class ForbiddenError(OrionError):
    """The object is reserved or protected (403 ``{"detail": ...}``)."""


class InvalidRequestError(OrionError):
    """A request that validates but cannot be carried out (400 ``{"detail": ...}``)."""
