"""Workspaces: every row belongs to one (existing rows to ``default``, id 1); names are unique per workspace and the listing indexes lead with it."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('blocks_app', '0003_variables'),
        ('orion_project', '0002_workspaces'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='blockdocument',
            name='uq_block_document_type_name',
        ),
        migrations.RemoveConstraint(
            model_name='variable',
            name='uq_variable_name',
        ),
        migrations.RemoveIndex(
            model_name='blockdocument',
            name='ix_block_document_listing',
        ),
        migrations.AddField(
            model_name='blockdocument',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='variable',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddIndex(
            model_name='blockdocument',
            index=models.Index(fields=['workspace', 'is_anonymous', 'name'], name='ix_block_document_ws_listing'),
        ),
        migrations.AddConstraint(
            model_name='blockdocument',
            constraint=models.UniqueConstraint(fields=('workspace', 'block_type', 'name'), name='uq_block_document_ws_type_name'),
        ),
        migrations.AddConstraint(
            model_name='variable',
            constraint=models.UniqueConstraint(fields=('workspace', 'name'), name='uq_variable_workspace_name'),
        ),
    ]
