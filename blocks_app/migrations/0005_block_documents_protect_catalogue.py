"""Block types and schemas are shared by every workspace: deleting one no longer cascades into block documents (a workspace's delete must never reach another's documents); no SQL, Django enforces ``on_delete``."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('blocks_app', '0004_workspaces'),
    ]

    operations = [
        migrations.AlterField(
            model_name='blockdocument',
            name='block_schema',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='documents', to='blocks_app.blockschema'),
        ),
        migrations.AlterField(
            model_name='blockdocument',
            name='block_type',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='documents', to='blocks_app.blocktype'),
        ),
    ]
