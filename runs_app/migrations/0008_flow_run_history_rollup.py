from django.db import migrations, models


def backfill(apps, schema_editor):
    """Sum the existing flow runs into the new table (later writes keep it up to date)."""
    from runs_app.rollup.writes import flow_run_history_rebuild

    flow_run_history_rebuild(run_model=apps.get_model("runs_app", "FlowRun"))


class Migration(migrations.Migration):

    dependencies = [
        ("runs_app", "0007_run_name_prefix_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="FlowRunHistoryBucket",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("flow_id", models.UUIDField()),
                ("bucket", models.DateTimeField()),
                ("state_type", models.CharField(choices=[("SCHEDULED", "Scheduled"), ("PENDING", "Pending"), ("RUNNING", "Running"), ("COMPLETED", "Completed"), ("FAILED", "Failed"), ("CANCELLED", "Cancelled"), ("CRASHED", "Crashed"), ("PAUSED", "Paused"), ("CANCELLING", "Cancelling")], max_length=16)),
                ("state_name", models.TextField()),
                ("count_runs", models.BigIntegerField(default=0)),
                ("run_time_sum", models.FloatField(default=0.0)),
                ("running_since_sum", models.FloatField(default=0.0)),
                ("started_lateness_sum", models.FloatField(default=0.0)),
                ("unstarted_count", models.BigIntegerField(default=0)),
                ("unstarted_expected_sum", models.FloatField(default=0.0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("flow_id", "bucket", "state_type", "state_name"), name="uq_fr_history_bucket"
                    )
                ],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
