"""The background loops of runs_app, registered by ``RunsAppConfig.ready()``.

Each loop serves every workspace and acts in one at a time: a pass walks
:func:`workspace_ids` and calls the per-workspace function with ``workspace_id``, so no
query of a pass reads or changes two workspaces' rows together.
"""

from __future__ import annotations

from orion_project.models import Workspace


def workspace_ids() -> list[int]:
    """Every workspace's id, in id order (one small read per pass)."""
    return list(Workspace.objects.order_by("id").values_list("id", flat=True))
