"""Blocks: typed configuration documents (storage, infrastructure, secrets, notifications).

A block *type* (``local-file-system``) has versioned *schemas* identified by a checksum of
their JSON schema, and *documents* holding values that follow a schema. The client
computes the checksum itself and looks schemas up by it, so the server must compute it
the same way (``blocks_app.checksums``).

Types and schemas are one catalogue shared by every workspace; documents (secrets among
them) and variables belong to one workspace. A document's type and schema are
``PROTECT``: deleting a catalogue entry never cascades into documents
(``blocks_app.services.blocks`` deletes the deleting workspace's own documents first and
refuses while another workspace has any).
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models

from orion_project.models import OrionModel, TenantModel


class BlockType(OrionModel):
    """A kind of block. Names starting with "prefect" are reserved; protected types (the
    built-in ones) cannot be deleted."""

    name = models.TextField()
    slug = models.TextField()
    logo_url = models.TextField(null=True, blank=True)
    documentation_url = models.TextField(null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    code_example = models.TextField(null=True, blank=True)
    is_protected = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["slug"], name="uq_block_type_slug"),
            models.UniqueConstraint(fields=["name"], name="uq_block_type_name"),
        ]

    def __str__(self) -> str:
        return self.name


class BlockSchema(OrionModel):
    """One version of a block type's JSON schema; unique per ``(checksum, version)``."""

    checksum = models.TextField()
    fields = models.JSONField(default=dict, blank=True)
    block_type = models.ForeignKey(BlockType, on_delete=models.CASCADE, related_name="schemas")
    capabilities = models.JSONField(default=list, blank=True)
    version = models.TextField(default="non-versioned")

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["checksum", "version"], name="uq_block_schema_checksum_version")]
        indexes = [models.Index(fields=["checksum", "-created"], name="ix_block_schema_checksum")]

    def __str__(self) -> str:
        return f"{self.block_type_id} {self.version} {self.checksum[:16]}"


class BlockDocument(TenantModel):
    """Values for a block schema; named uniquely per workspace and block type unless
    anonymous (anonymous documents get a generated ``anonymous-<uuid>`` name and are
    hidden from listings)."""

    name = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    block_schema = models.ForeignKey(BlockSchema, on_delete=models.PROTECT, related_name="documents")
    block_type = models.ForeignKey(BlockType, on_delete=models.PROTECT, related_name="documents")
    is_anonymous = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "block_type", "name"], name="uq_block_document_ws_type_name")
        ]
        indexes = [models.Index(fields=["workspace", "is_anonymous", "name"], name="ix_block_document_ws_listing")]

    def __str__(self) -> str:
        return self.name


class Variable(TenantModel):
    """A named string value flows read at run time (``Variable.get("name")``), beside blocks
    in the configuration store. Names are lowercase letters, digits and underscores."""

    name = models.CharField(
        max_length=255,
        validators=[RegexValidator(r"^[a-z0-9_]*$", "Lowercase letters, numbers and underscores only.")],
    )
    value = models.CharField(max_length=5000)
    tags = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="uq_variable_workspace_name")]

    def __str__(self) -> str:
        return self.name
