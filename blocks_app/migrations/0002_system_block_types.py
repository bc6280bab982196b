"""Seed the system block types (see blocks_app.system_blocks for why only identifiers)."""

from typing import Any

from django.db import migrations


def seed(apps: Any, schema_editor: Any) -> None:
    from blocks_app.services.blocks import install_system_block_types

    install_system_block_types(apps.get_model("blocks_app", "BlockType"))


class Migration(migrations.Migration):
    dependencies = [("blocks_app", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
