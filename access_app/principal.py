"""Who sends a request, and with which role in the request's workspace.

Set by ``access_app.middleware.ApiAccessMiddleware`` as ``request.principal`` once the
request is authenticated (an API key, or a signed-in dashboard session); read by the audit
trail and by views that need to know who acts. With ``ORION_AUTH=none`` every request is
the anonymous principal with the ``admin`` role of its workspace.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from access_app.models import ROLE_RANK, Role


@dataclass(frozen=True)
class Principal:
    """An authenticated caller in one workspace."""

    kind: str  # "key", "user" or "anonymous"
    name: str  # the key's name or the user's username (what the audit trail shows)
    role: Role
    workspace_id: int
    api_key_id: uuid.UUID | None = None
    user_id: int | None = None

    def may(self, needed: Role) -> bool:
        """Whether this principal's role includes ``needed``."""
        return ROLE_RANK[self.role] >= ROLE_RANK[needed]
