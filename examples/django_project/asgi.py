"""ASGI entry point: Django's own, plus the one line.

    uvicorn examples.django_project.asgi:application

Unwrapped, for the zero-code entry point instead of the one line:

    SAASUS_MW_APP=examples.django_project.asgi:django_application uvicorn saasus_mw.entry:asgi_app --factory
"""

import os

from django.core.asgi import get_asgi_application

from saasus_mw import MarketplaceMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_project.settings")

django_application = get_asgi_application()
application = MarketplaceMiddleware(django_application)
