"""The WSGI application as ``orion_start``'s granian worker processes load it.

granian's worker processes outlive a main process that is killed (``SIGKILL``, the
OOM killer) and keep serving the port, so a supervisor restarting ``orion_start`` would
find the port taken by a worker nobody manages. Each worker therefore asks the kernel
for ``SIGKILL`` when its parent dies (Linux ``PR_SET_PDEATHSIG``) before it loads the
application; gunicorn's workers did the same by watching their parent's pid. ``SIGKILL``
because until granian's runtime starts, the worker still runs the handler it inherited
from the main process, which only sets a flag on ``SIGTERM``; the parent died
ungracefully anyway, and PostgreSQL rolls back what the worker had open.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def exit_with_parent() -> None:
    """Have this process terminated when the process that started it dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:
        # The parent died before the request above: no signal will come.
        os.kill(os.getpid(), signal.SIGKILL)


exit_with_parent()

from django.conf import settings  # noqa: E402

from orion_project.registry import registered_websocket  # noqa: E402
from orion_project.serving import OrionServer  # noqa: E402
from orion_project.wsgi import application  # noqa: E402

# What orion_start serves (granian --interface asginl): HTTP through ``application`` on
# ORION_WEB_THREADS threads, websockets through the handlers the apps registered.
server = OrionServer(
    application,
    threads=settings.ORION_WEB_THREADS,
    max_body_bytes=settings.ORION_MAX_REQUEST_BODY_BYTES,
    websockets=registered_websocket,
)

__all__ = ["application", "server"]
