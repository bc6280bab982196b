"""API keys belong to a workspace and act with a role; the audit trail.

Existing keys go to the workspace ``default`` (every row before workspaces is its) with the
role their scope stood for: read -> viewer, write -> developer, admin -> admin.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

SCOPE_ROLES = {"read": "viewer", "write": "developer", "admin": "admin"}


def roles_from_scopes(apps, schema_editor):
    ApiKey = apps.get_model("access_app", "ApiKey")
    for scope, role in SCOPE_ROLES.items():
        ApiKey.objects.filter(scope=scope).update(role=role)


def scopes_from_roles(apps, schema_editor):
    ApiKey = apps.get_model("access_app", "ApiKey")
    ApiKey.objects.filter(role="viewer").update(scope="read")
    ApiKey.objects.filter(role="admin").update(scope="admin")
    ApiKey.objects.exclude(role__in=["viewer", "admin"]).update(scope="write")


class Migration(migrations.Migration):

    dependencies = [
        ('access_app', '0002_memberships'),
        ('orion_project', '0002_workspaces'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('channel', models.CharField(choices=[('api', 'API'), ('admin', 'admin'), ('command', 'command'), ('door', 'refused at the door')], max_length=8)),
                ('actor', models.TextField(blank=True, default='')),
                ('workspace_slug', models.CharField(blank=True, default='', max_length=40)),
                ('action', models.TextField()),
                ('object_type', models.CharField(blank=True, default='', max_length=64)),
                ('object_id', models.CharField(blank=True, default='', max_length=255)),
                ('outcome', models.CharField(choices=[('success', 'success'), ('failure', 'failure')], max_length=8)),
                ('status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('source', models.CharField(blank=True, default='', max_length=64)),
                ('detail', models.TextField(blank=True, default='')),
            ],
            options={
                'verbose_name': 'audit event',
                'ordering': ['-at', '-id'],
            },
        ),
        migrations.AlterModelOptions(
            name='apikey',
            options={'ordering': ['workspace', 'name'], 'verbose_name': 'API key'},
        ),
        migrations.RemoveConstraint(
            model_name='apikey',
            name='uq_api_key_name',
        ),
        migrations.AddField(
            model_name='apikey',
            name='role',
            field=models.CharField(choices=[('viewer', 'viewer: reads'), ('runner', 'runner: what flow processes, agents and workers send'), ('developer', 'developer: every Orion route of the workspace'), ('admin', "admin: also the workspace's keys, members and /api/admin")], default='developer', max_length=16),
        ),
        migrations.RunPython(roles_from_scopes, scopes_from_roles),
        migrations.RemoveField(
            model_name='apikey',
            name='scope',
        ),
        migrations.AddField(
            model_name='apikey',
            name='workspace',
            field=models.ForeignKey(db_constraint=False, db_index=False, default=1, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orion_project.workspace'),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name='apikey',
            constraint=models.UniqueConstraint(fields=('workspace', 'name'), name='uq_api_key_workspace_name'),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='workspace',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='orion_project.workspace'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['workspace_slug', '-at'], name='ix_audit_workspace_at'),
        ),
    ]
