"""Writes of blocks_app, one module per sub-domain: blocks (types, schemas, documents) and variables."""
