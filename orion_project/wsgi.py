"""WSGI entry point: what ``orion_project.serving`` runs on its threads under
``orion_start``, and what any WSGI server can serve (without the websockets).

Django's application behind :class:`~orion_project.request_body.ChunkedBodyMiddleware`,
so a body sent with ``Transfer-Encoding: chunked`` reaches the views whole.
"""

import os

from django.core.wsgi import get_wsgi_application

from orion_project.request_body import ChunkedBodyMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orion_project.settings")

application = ChunkedBodyMiddleware(get_wsgi_application())
