"""Workspaces: the table, and the workspace ``default`` that owns every row written before."""

import django.core.validators
import django.utils.timezone
from django.db import migrations, models


def create_default_workspace(apps, schema_editor):
    """The workspace every existing row moves into (id 1, as the tables' migrations
    assume), then the id sequence moved past it on PostgreSQL."""
    workspace = apps.get_model("orion_project", "Workspace")
    workspace.objects.using(schema_editor.connection.alias).get_or_create(
        id=1, defaults={"slug": "default", "name": "Default workspace"}
    )
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "SELECT setval(pg_get_serial_sequence('orion_project_workspace', 'id'), "
            "(SELECT MAX(id) FROM orion_project_workspace))"
        )


class Migration(migrations.Migration):

    dependencies = [
        ('orion_project', '0001_service_heartbeat'),
    ]

    operations = [
        migrations.CreateModel(
            name='Workspace',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('slug', models.CharField(max_length=40, validators=[django.core.validators.RegexValidator('^[a-z0-9-]{1,40}$')])),
                ('name', models.TextField(blank=True, default='')),
                ('created', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
            ],
            options={
                'ordering': ['slug'],
                'constraints': [models.UniqueConstraint(fields=('slug',), name='uq_workspace_slug')],
            },
        ),
        migrations.RunPython(create_default_workspace, migrations.RunPython.noop),
    ]
