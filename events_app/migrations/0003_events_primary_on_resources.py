"""Each resource row carries its event's primary resource (id and name), in the walk
index, so counting a related resource's events by primary resource reads the index alone.

Not atomic, so that on a large log no lock is held for long: the old index goes (reads by
resource are slower until the new one is built); the two columns are added without a
rewrite (a constant default, kept in the database so that a server of the previous release
goes on writing); the existing rows are filled in ranges of events, each range its own
transaction (its rows are locked while it is written); on PostgreSQL the new index is built
concurrently (writes go on) and the table vacuumed, so index-only reads see its pages as
visible. A previous release still writing leaves its rows empty when their events fall in
a range already filled (count-by resource counts them under an empty id): stop it first.
"""

from django.db import migrations, models

from orion_project.migration_ops import AddIndexConcurrently

BATCH = 250_000


def backfill(apps, schema_editor):
    from events_app.services.record import event_resources_fill_primary

    Event = apps.get_model("events_app", "Event")
    EventResource = apps.get_model("events_app", "EventResource")
    seqs = Event.objects.order_by("seq").values_list("seq", flat=True)
    first = seqs.first()
    # The last event is read again after each range: events written meanwhile are filled too.
    while first is not None and first <= (seqs.last() or 0):
        event_resources_fill_primary(first, first + BATCH - 1, event_model=Event, resource_model=EventResource)
        first += BATCH


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("events_app", "0002_events_scale_rollup"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="eventresource", name="ix_evres_ws_resource_walk"),
        migrations.AddField(
            model_name="eventresource", name="primary_id", field=models.TextField(blank=True, default="", db_default="")
        ),
        migrations.AddField(
            model_name="eventresource", name="primary_name", field=models.TextField(blank=True, null=True)
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        AddIndexConcurrently(
            model_name="eventresource",
            index=models.Index(
                fields=["workspace_id", "resource_id", "-occurred", "-event_seq", "role"],
                include=("primary_id", "primary_name"),
                name="ix_evres_walk_primary",
            ),
        ),
    ]
