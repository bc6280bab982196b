# Foreign keys whose column already leads a composite index lose their own index: every
# state write rewrites each index of the row. Only DROP INDEX (see foreign_key_index_dropped).

import django.db.models.deletion
from django.db import migrations, models

from orion_project.migration_ops import foreign_key_index_dropped


class Migration(migrations.Migration):

    dependencies = [
        ('flows_app', '0004_deployment_liveness_silence'),
        ('runs_app', '0008_flow_run_history_rollup'),
    ]

    operations = [
        foreign_key_index_dropped(
            'runs_app', 'flowrun', 'deployment',
            models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='flow_runs', to='flows_app.deployment'),
        ),
        foreign_key_index_dropped(
            'runs_app', 'flowrun', 'flow',
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='flow_runs', to='flows_app.flow'),
        ),
        foreign_key_index_dropped(
            'runs_app', 'flowrun', 'parent_task_run',
            models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='subflow_runs', to='runs_app.taskrun'),
        ),
        foreign_key_index_dropped(
            'runs_app', 'flowruninput', 'flow_run',
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='inputs', to='runs_app.flowrun'),
        ),
        foreign_key_index_dropped(
            'runs_app', 'flowrunstate', 'flow_run',
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='states', to='runs_app.flowrun'),
        ),
        foreign_key_index_dropped(
            'runs_app', 'taskrun', 'flow_run',
            models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='task_runs', to='runs_app.flowrun'),
        ),
        foreign_key_index_dropped(
            'runs_app', 'taskrunstate', 'task_run',
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='states', to='runs_app.taskrun'),
        ),
    ]
