"""Reads of runs_app, one module per sub-domain; each takes a validated filter body."""
