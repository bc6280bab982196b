"""The background loops of runs_app, registered by ``RunsAppConfig.ready()``."""
