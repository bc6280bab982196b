"""Workspaces: every row belongs to one (existing rows to ``default``, id 1); names are unique per workspace and the listing indexes lead with it."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('flows_app', '0005_saved_search_plural'),
        ('orion_project', '0002_workspaces'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='flow',
            name='uq_flow_name',
        ),
        migrations.RemoveConstraint(
            model_name='savedsearch',
            name='uq_saved_search_name',
        ),
        migrations.RemoveConstraint(
            model_name='workpool',
            name='uq_work_pool_name',
        ),
        migrations.RemoveIndex(
            model_name='deployment',
            name='ix_deployment_name',
        ),
        migrations.RemoveIndex(
            model_name='deployment',
            name='ix_deployment_created_desc',
        ),
        migrations.RemoveIndex(
            model_name='deployment',
            name='ix_deployment_updated_desc',
        ),
        migrations.RemoveIndex(
            model_name='deployment',
            name='ix_deployment_work_queue_name',
        ),
        migrations.RemoveIndex(
            model_name='flow',
            name='ix_flow_created_desc',
        ),
        migrations.RemoveIndex(
            model_name='flow',
            name='ix_flow_updated_desc',
        ),
        migrations.AddField(
            model_name='deployment',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='deploymentschedule',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='flow',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='flowrunnotificationpolicy',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='savedsearch',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='worker',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='workpool',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='workqueue',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddIndex(
            model_name='deployment',
            index=models.Index(fields=['workspace', 'name'], name='ix_deployment_ws_name'),
        ),
        migrations.AddIndex(
            model_name='deployment',
            index=models.Index(fields=['workspace', '-created'], name='ix_deployment_ws_created_desc'),
        ),
        migrations.AddIndex(
            model_name='deployment',
            index=models.Index(fields=['workspace', '-updated'], name='ix_deployment_ws_updated_desc'),
        ),
        migrations.AddIndex(
            model_name='deployment',
            index=models.Index(fields=['workspace', 'work_queue_name'], name='ix_deployment_ws_queue_name'),
        ),
        migrations.AddIndex(
            model_name='flow',
            index=models.Index(fields=['workspace', '-created'], name='ix_flow_ws_created_desc'),
        ),
        migrations.AddIndex(
            model_name='flow',
            index=models.Index(fields=['workspace', '-updated'], name='ix_flow_ws_updated_desc'),
        ),
        migrations.AddConstraint(
            model_name='flow',
            constraint=models.UniqueConstraint(fields=('workspace', 'name'), name='uq_flow_workspace_name'),
        ),
        migrations.AddConstraint(
            model_name='savedsearch',
            constraint=models.UniqueConstraint(fields=('workspace', 'name'), name='uq_saved_search_workspace_name'),
        ),
        migrations.AddConstraint(
            model_name='workpool',
            constraint=models.UniqueConstraint(fields=('workspace', 'name'), name='uq_work_pool_workspace_name'),
        ),
    ]
