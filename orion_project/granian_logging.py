"""granian's logging under ``orion_start``: its own, less one piece of advice that does not fit.

granian warns at every start when a worker's threads outnumber twice the machine's cores
plus one (8 threads on a 2-core machine), advice meant for applications that keep Python
busy all the time. This API's requests wait on the database for part of their life, and
the thread count was chosen by measurement for that (docs/performance.md, "Serving"), so
the warning would only alarm operators. ``granian_logging.json`` is granian's default
logging configuration with this filter on its logger; every other message passes.
"""

from __future__ import annotations

import logging

ADVICE = "seems quite high compared to the number of CPU cores available"


class WithoutThreadsAdvice(logging.Filter):
    """Drops granian's warning about the number of threads per worker."""

    def filter(self, record: logging.LogRecord) -> bool:
        return ADVICE not in record.getMessage()
