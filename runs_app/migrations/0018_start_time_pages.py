"""Two partial indexes for pages sorted by start time (``START_TIME_*``): the runs not
started by expected start, the started runs by start, each with the expected start (a
page's window), id and flow, so that each half of such a page is one ordered index read.

Not atomic: on PostgreSQL each index is built concurrently (writes go on while a table of
millions of runs is read) and the table vacuumed, so index-only reads see its pages as
visible.
"""

from django.db import migrations, models

from orion_project.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("flows_app", "0007_announced_status"),
        ("orion_project", "0002_workspaces"),
        ("runs_app", "0017_scale10m_history_minutes"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="flowrun",
            index=models.Index(
                condition=models.Q(("start_time__isnull", True)),
                fields=["workspace", "expected_start_time"],
                include=("id", "flow_id"),
                name="ix_fr_ws_not_started",
            ),
        ),
        AddIndexConcurrently(
            model_name="flowrun",
            index=models.Index(
                condition=models.Q(("start_time__isnull", False)),
                fields=["workspace", "start_time"],
                include=("expected_start_time", "id", "flow_id"),
                name="ix_fr_ws_started",
            ),
        ),
    ]
