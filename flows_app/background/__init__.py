"""The background loops of flows_app, registered by ``FlowsAppConfig.ready()``."""
