"""Writes of the access app: ``keys`` (API keys), ``workspaces`` (workspace
administration and its one delete path), ``audit`` (the audit trail). The key services
are also importable from here, where the admin and the tests have always found them."""

from access_app.services.keys import ApiKeyError, api_key_create, api_key_revoke, parse_duration

__all__ = ["ApiKeyError", "api_key_create", "api_key_revoke", "parse_duration"]
