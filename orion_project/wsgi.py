"""WSGI entry point (granian --interface wsgi orion_project.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orion_project.settings")

application = get_wsgi_application()
