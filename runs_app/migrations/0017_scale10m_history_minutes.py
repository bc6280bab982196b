"""The history rollup keeps each workspace's all-flows sums per minute too.

A history interval bound cuts an hour, and the part of the cut hour was read from the
runs: up to half an hour of them per bound, ten times more at 10M runs than at 1M. Every
write now also keeps an all-flows row per minute of expected start
(``runs_app.rollup.writes.ALL_FLOWS_BY_MINUTE``), so only a part of the cut minute is
read. They are summed here from the runs: one grouped statement on PostgreSQL, the
rollup's own code elsewhere (any rows of that kind are recomputed).
"""

from django.db import migrations


def minute_rows(apps, schema_editor):
    from runs_app.rollup.writes import ALL_FLOWS_BY_MINUTE, flow_runs_history_add_minutes

    bucket = apps.get_model("runs_app", "FlowRunHistoryBucket")
    run = apps.get_model("runs_app", "FlowRun")
    bucket.objects.filter(flow_id=ALL_FLOWS_BY_MINUTE).delete()
    if schema_editor.connection.vendor == "postgresql":
        from runs_app.seeding.sql import insert_rollup_rows

        with schema_editor.connection.cursor() as cursor:
            insert_rollup_rows(cursor, run._meta.db_table, hours=False, minutes=True)
    else:
        flow_runs_history_add_minutes(run.objects.all())


def no_minute_rows(apps, schema_editor):
    from runs_app.rollup.writes import ALL_FLOWS_BY_MINUTE

    apps.get_model("runs_app", "FlowRunHistoryBucket").objects.filter(flow_id=ALL_FLOWS_BY_MINUTE).delete()


class Migration(migrations.Migration):
    dependencies = [("runs_app", "0016_metrics_flow_runs_by_workspace_and_flow")]

    operations = [migrations.RunPython(minute_rows, no_minute_rows)]
