"""The actions service: runs the ``ActionRun`` rows the trigger evaluator writes, once
each, and records what happened as ``prefect.automation.action.*`` events.

The firing document (``ActionRun.firing``) read here mirrors the reference's
``TriggeredAction`` without its action (which is ``ActionRun.action``/``action_index``,
the invocation id being ``ActionRun.id``)::

    {
      "automation": {"id", "name", "description", "enabled", "trigger", "actions",
                     "actions_on_trigger", "actions_on_resolve"},   # as the API answers it
      "firing": {"id", "trigger", "trigger_states", "triggered", "triggering_labels",
                 "triggering_firings", "triggering_event", "triggering_value"},
      "triggered": "<ISO time the automation fired>",
      "triggering_labels": {"<label>": "<value>"},                  # of the for_each
      "triggering_event": {<event as /events/filter answers it>} | null,
    }

``triggering_event`` is the action's own: the firing's event for ``actions``, the
``prefect.automation.triggered``/``resolved`` event for ``actions_on_trigger`` and
``actions_on_resolve``. Every key is optional; :mod:`.invocation` is the one reader.
"""

from automations_app.actions.runner import run_due_actions

__all__ = ["run_due_actions"]
