"""Blocks: typed, schema-checked configuration documents (storage, infrastructure, secrets)."""

from django.apps import AppConfig


class BlocksAppConfig(AppConfig):
    """App holding block types, block schemas and block documents."""

    name = "blocks_app"
    verbose_name = "Blocks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from blocks_app.services.blocks import blocks_reset
        from orion_project.registry import register_reset

        register_reset(blocks_reset, order=30)
