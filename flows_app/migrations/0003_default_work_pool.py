"""Seed the pool and queue every server starts with: ``default-agent-pool`` / ``default``."""

from typing import Any

from django.db import migrations

DEFAULT_POOL = "default-agent-pool"
DEFAULT_QUEUE = "default"


def seed(apps: Any, schema_editor: Any) -> None:
    WorkPool = apps.get_model("flows_app", "WorkPool")
    WorkQueue = apps.get_model("flows_app", "WorkQueue")
    pool, _ = WorkPool.objects.get_or_create(
        name=DEFAULT_POOL,
        defaults={"type": "prefect-agent", "description": "The default pool for agents."},
    )
    queue, _ = WorkQueue.objects.get_or_create(
        work_pool=pool, name=DEFAULT_QUEUE, defaults={"description": "The default queue.", "priority": 1}
    )
    if pool.default_queue_id is None:
        pool.default_queue = queue
        pool.save(update_fields=["default_queue"])


class Migration(migrations.Migration):
    dependencies = [("flows_app", "0002_work_pools_queues_schedules")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
