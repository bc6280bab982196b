"""The background loops of automations_app, registered by ``AutomationsAppConfig.ready()``."""
