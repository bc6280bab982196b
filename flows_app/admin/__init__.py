"""Admin for flows_app: ``flows`` (flows, work pools and queues, saved searches,
notification policies) and ``deployments`` (whose writes go through the deployment
services)."""

from flows_app.admin import deployments, flows  # noqa: F401  (registers the model admins)
