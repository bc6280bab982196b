"""The runs of one flow are indexed under their workspace: ``(workspace, flow, expected
start)`` replaces ``(flow, expected start)``. Every read names the workspace, and with
the flow alone PostgreSQL ANDed the flow's entries with a bitmap of the workspace's
100,000 runs (a flow page's list at 1M runs over 10 workspaces). Built before the old
one is dropped, so a flow's runs always have an index.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("flows_app", "0007_announced_status"),
        ("orion_project", "0002_workspaces"),
        ("runs_app", "0015_metrics_all_hours_rows"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="flowrun",
            index=models.Index(fields=["workspace", "flow", "-expected_start_time"], name="ix_fr_ws_flow_expected"),
        ),
        migrations.RemoveIndex(
            model_name="flowrun",
            name="ix_fr_flow_expected",
        ),
    ]
