"""Admin for runs: pages made for operating runs, never a side door into orchestration.

``runs`` has the flow-run and task-run pages (summary, timeline, related runs, log tail,
confirmed actions through the engine) and the runs dashboard; ``filters`` the index-served
changelist filters; ``records`` logs and tag concurrency limits.
"""

from django.contrib import admin

from runs_app.admin import records, runs  # noqa: F401  (registers the model admins)

# The admin's home page links the runs dashboard (the template adds one module on top).
admin.site.index_template = "admin/orion_index.html"
