"""Workspaces: every row belongs to one (existing rows to ``default``, id 1); names are unique per workspace and the listing indexes lead with it."""

import django.db.models.deletion
import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('flows_app', '0006_workspaces'),
        ('orion_project', '0002_workspaces'),
        ('runs_app', '0009_drop_redundant_foreign_key_indexes'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='artifactcollection',
            name='uq_artifact_collection_key',
        ),
        migrations.RemoveConstraint(
            model_name='concurrencylimit',
            name='uq_concurrency_limit_tag',
        ),
        migrations.RemoveConstraint(
            model_name='flowrunhistorybucket',
            name='uq_fr_history_bucket',
        ),
        migrations.RemoveConstraint(
            model_name='globalconcurrencylimit',
            name='uq_global_concurrency_limit_name',
        ),
        migrations.RemoveConstraint(
            model_name='runstatecount',
            name='uq_run_state_count',
        ),
        migrations.RemoveIndex(
            model_name='artifact',
            name='ix_artifact_key_created',
        ),
        migrations.RemoveIndex(
            model_name='flowrun',
            name='ix_fr_expected_start',
        ),
        migrations.RemoveIndex(
            model_name='flowrun',
            name='ix_fr_state_expected',
        ),
        migrations.RemoveIndex(
            model_name='flowrun',
            name='ix_fr_state_name',
        ),
        migrations.RemoveIndex(
            model_name='flowrun',
            name='ix_fr_start_or_expected',
        ),
        migrations.RemoveIndex(
            model_name='flowrun',
            name='ix_fr_end_time',
        ),
        migrations.RemoveIndex(
            model_name='flowrun',
            name='ix_fr_name',
        ),
        migrations.RemoveIndex(
            model_name='flowrun',
            name='ix_fr_next_scheduled',
        ),
        migrations.RemoveIndex(
            model_name='flowrun',
            name='ix_fr_work_queue_name',
        ),
        migrations.RemoveIndex(
            model_name='log',
            name='ix_log_timestamp',
        ),
        migrations.RemoveIndex(
            model_name='taskrun',
            name='ix_tr_expected_start',
        ),
        migrations.RemoveIndex(
            model_name='taskrun',
            name='ix_tr_state_expected',
        ),
        migrations.RemoveIndex(
            model_name='taskrun',
            name='ix_tr_end_time',
        ),
        migrations.RemoveIndex(
            model_name='taskrun',
            name='ix_tr_name',
        ),
        migrations.RemoveIndex(
            model_name='taskrun',
            name='ix_tr_next_scheduled',
        ),
        migrations.RemoveIndex(
            model_name='taskrunstatecache',
            name='ix_cache_key_created',
        ),
        migrations.AddField(
            model_name='artifact',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='artifactcollection',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='concurrencylimit',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='flowrun',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='flowrunhistorybucket',
            name='workspace_id',
            field=models.IntegerField(default=1),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='flowruninput',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='flowrunstate',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='globalconcurrencylimit',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='log',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='runstatecount',
            name='workspace_id',
            field=models.IntegerField(default=1),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='taskrun',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='taskrunstate',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='taskrunstatecache',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddIndex(
            model_name='artifact',
            index=models.Index(fields=['workspace', 'key', '-created'], name='ix_artifact_ws_key_created'),
        ),
        migrations.AddIndex(
            model_name='flowrun',
            index=models.Index(fields=['workspace', '-expected_start_time'], name='ix_fr_ws_expected_start'),
        ),
        migrations.AddIndex(
            model_name='flowrun',
            index=models.Index(fields=['workspace', 'state_type', 'expected_start_time'], name='ix_fr_ws_state_expected'),
        ),
        migrations.AddIndex(
            model_name='flowrun',
            index=models.Index(fields=['workspace', 'state_name'], name='ix_fr_ws_state_name'),
        ),
        migrations.AddIndex(
            model_name='flowrun',
            index=models.Index(models.F('workspace'), models.OrderBy(django.db.models.functions.comparison.Coalesce(models.F('start_time'), models.F('expected_start_time')), descending=True), name='ix_fr_ws_start_or_expected'),
        ),
        migrations.AddIndex(
            model_name='flowrun',
            index=models.Index(fields=['workspace', '-end_time'], name='ix_fr_ws_end_time'),
        ),
        migrations.AddIndex(
            model_name='flowrun',
            index=models.Index(fields=['workspace', 'name'], name='ix_fr_ws_name'),
        ),
        migrations.AddIndex(
            model_name='flowrun',
            index=models.Index(condition=models.Q(('state_type', 'SCHEDULED')), fields=['workspace', 'next_scheduled_start_time'], name='ix_fr_ws_next_scheduled'),
        ),
        migrations.AddIndex(
            model_name='flowrun',
            index=models.Index(fields=['workspace', 'work_queue_name'], name='ix_fr_ws_work_queue_name'),
        ),
        migrations.AddIndex(
            model_name='log',
            index=models.Index(fields=['workspace', 'timestamp'], name='ix_log_ws_timestamp'),
        ),
        migrations.AddIndex(
            model_name='taskrun',
            index=models.Index(fields=['workspace', '-expected_start_time'], name='ix_tr_ws_expected_start'),
        ),
        migrations.AddIndex(
            model_name='taskrun',
            index=models.Index(fields=['workspace', 'state_type', 'expected_start_time'], name='ix_tr_ws_state_expected'),
        ),
        migrations.AddIndex(
            model_name='taskrun',
            index=models.Index(fields=['workspace', '-end_time'], name='ix_tr_ws_end_time'),
        ),
        migrations.AddIndex(
            model_name='taskrun',
            index=models.Index(fields=['workspace', 'name'], name='ix_tr_ws_name'),
        ),
        migrations.AddIndex(
            model_name='taskrun',
            index=models.Index(condition=models.Q(('state_type', 'SCHEDULED')), fields=['workspace', 'next_scheduled_start_time'], name='ix_tr_ws_next_scheduled'),
        ),
        migrations.AddIndex(
            model_name='taskrunstatecache',
            index=models.Index(fields=['workspace', 'cache_key', '-created'], name='ix_cache_ws_key_created'),
        ),
        migrations.AddConstraint(
            model_name='artifactcollection',
            constraint=models.UniqueConstraint(fields=('workspace', 'key'), name='uq_artifact_collection_ws_key'),
        ),
        migrations.AddConstraint(
            model_name='concurrencylimit',
            constraint=models.UniqueConstraint(fields=('workspace', 'tag'), name='uq_concurrency_limit_ws_tag'),
        ),
        migrations.AddConstraint(
            model_name='flowrunhistorybucket',
            constraint=models.UniqueConstraint(fields=('workspace_id', 'flow_id', 'bucket', 'state_type', 'state_name'), name='uq_fr_history_ws_bucket'),
        ),
        migrations.AddConstraint(
            model_name='globalconcurrencylimit',
            constraint=models.UniqueConstraint(fields=('workspace', 'name'), name='uq_global_limit_ws_name'),
        ),
        migrations.AddConstraint(
            model_name='runstatecount',
            constraint=models.UniqueConstraint(fields=('workspace_id', 'kind', 'state_type'), name='uq_run_state_count_ws'),
        ),
    ]
