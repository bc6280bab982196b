"""Memberships: a user's role per workspace (the signed-in dashboard and the admin)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('access_app', '0001_api_keys'),
        ('orion_project', '0002_workspaces'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Membership',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.CharField(choices=[('viewer', 'viewer: reads'), ('runner', 'runner: what flow processes, agents and workers send'), ('developer', 'developer: every Orion route of the workspace'), ('admin', "admin: also the workspace's keys, members and /api/admin")], default='viewer', max_length=16)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to=settings.AUTH_USER_MODEL)),
                ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='orion_project.workspace')),
            ],
            options={
                'ordering': ['workspace', 'user'],
                'constraints': [models.UniqueConstraint(fields=('user', 'workspace'), name='uq_membership_user_workspace')],
            },
        ),
    ]
