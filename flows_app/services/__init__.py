"""Writes of flows_app, one module per sub-domain: flows, deployments, work pools and queues."""
