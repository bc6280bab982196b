"""Trigger evaluation: reading trigger documents, their buckets, the windowing and what a
firing writes. The background pass that feeds it the event log is
:mod:`automations_app.background.triggers`."""
