"""The history rollup's all-hours rows replace the stored sums of its old hours.

``/api/metrics`` summed each workspace's all-flows rows since the stored sum
(``FlowRunHistoryTotal``) ended, two to three days of hours, one heap page per row at
1M runs. Every write now also keeps an all-hours row per workspace and state
(``runs_app.rollup.writes.ALL_HOURS``), so a scrape reads a row per state. They are
summed here from the all-flows rows (a few per hour and workspace; any earlier all-hours
rows are recomputed), and the stored sums go.
"""

from django.db import migrations
from django.db.models import Sum

def all_hours_rows(apps, schema_editor):
    from runs_app.rollup.writes import ALL_FLOWS, ALL_HOURS, ALL_HOURS_BUCKET, SUM_FIELDS

    bucket = apps.get_model("runs_app", "FlowRunHistoryBucket")
    bucket.objects.filter(flow_id=ALL_HOURS).delete()
    sums = (
        bucket.objects.filter(flow_id=ALL_FLOWS)
        .values("workspace_id", "state_type", "state_name")
        .annotate(**{f"total_{name}": Sum(name) for name in SUM_FIELDS})
        .order_by()
    )
    bucket.objects.bulk_create(
        [
            bucket(
                workspace_id=row["workspace_id"],
                flow_id=ALL_HOURS,
                bucket=ALL_HOURS_BUCKET,
                state_type=row["state_type"],
                state_name=row["state_name"],
                **{name: row[f"total_{name}"] for name in SUM_FIELDS},
            )
            for row in sums
        ],
        batch_size=1000,
    )


def no_all_hours_rows(apps, schema_editor):
    from runs_app.rollup.writes import ALL_HOURS

    apps.get_model("runs_app", "FlowRunHistoryBucket").objects.filter(flow_id=ALL_HOURS).delete()


class Migration(migrations.Migration):
    dependencies = [("runs_app", "0014_flow_run_tags_by_workspace")]

    operations = [
        migrations.RunPython(all_hours_rows, no_all_hours_rows),
        migrations.DeleteModel(name="FlowRunHistoryTotal"),
    ]
