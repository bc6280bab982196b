"""A run's ``empirical_policy`` defaults: every key with its default, as answers show them.

A module of its own, free of Django models, because the seeder writes them too and runs
before Django is set up (``bench.seed``).
"""

from __future__ import annotations

from typing import Any

FLOW_RUN_POLICY_DEFAULTS: dict[str, Any] = {
    "max_retries": 0,
    "retry_delay_seconds": 0,
    "retries": None,
    "retry_delay": None,
    "pause_keys": [],
    "resuming": False,
}
TASK_RUN_POLICY_DEFAULTS: dict[str, Any] = {
    "max_retries": 0,
    "retry_delay_seconds": 0,
    "retries": None,
    "retry_delay": None,
    "retry_jitter_factor": None,
}
