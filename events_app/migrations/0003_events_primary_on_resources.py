"""Each resource row carries its event's primary resource (id and name), in the walk
index, so counting a related resource's events by primary resource reads the index alone.

Not atomic, so that on a large log no lock is held for long: the old index goes (reads by
resource are slower until the new one is built), the two columns are added (no rewrite:
a constant default), the existing rows are filled in ranges of events, each its own
transaction (a range's rows are locked while it is written), and on PostgreSQL the new
index is built concurrently (writes go on) and the table vacuumed, so index-only reads
see its pages as visible. Events written while it runs by a server of the previous release
would keep empty columns: migrate with the previous release stopped, or run it again.
"""

from django.db import migrations, models
from django.db.migrations.operations import AddIndex

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


class AddIndexConcurrently(AddIndex):
    """``AddIndex``, built without blocking writes on PostgreSQL (the migration is not atomic)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor != "postgresql":
            schema_editor.add_index(model, self.index)
            return
        schema_editor.add_index(model, self.index, concurrently=True)
        schema_editor.execute(f"VACUUM (ANALYZE) {schema_editor.quote_name(model._meta.db_table)}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("events_app", "0002_events_scale_rollup"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="eventresource", name="ix_evres_ws_resource_walk"),
        migrations.AddField(
            model_name="eventresource", name="primary_id", field=models.TextField(blank=True, default="")
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
