from django.db import migrations, models


def backfill(apps, schema_editor):
    """Count the existing events into the new table (later writes keep it up to date)."""
    from events_app.services.hour_counts import event_hour_counts_rebuild

    event_hour_counts_rebuild(
        event_model=apps.get_model("events_app", "Event"), count_model=apps.get_model("events_app", "EventHourCount")
    )


class Migration(migrations.Migration):

    dependencies = [
        ("events_app", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="EventHourCount",
            fields=[
                ("seq", models.BigAutoField(primary_key=True, serialize=False)),
                ("workspace_id", models.IntegerField()),
                ("hour", models.DateTimeField()),
                ("event", models.CharField(max_length=1024)),
                ("count", models.BigIntegerField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("workspace_id", "hour", "event"), name="uq_event_hour_count")
                ],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="eventresource", name="ix_evres_ws_resource"),
        migrations.AddIndex(
            model_name="eventresource",
            index=models.Index(
                fields=["workspace_id", "resource_id", "-occurred", "-event_seq", "role"],
                name="ix_evres_ws_resource_walk",
            ),
        ),
    ]
